#include "cli/logging.hpp"

#include "cli/errors.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <memory>
#include <mutex>

namespace fleetrun::cli {

namespace {

constexpr const char* k_text_pattern = "%Y-%m-%dT%H:%M:%S.%eZ %^%l%$: %v";

std::string utc_time(spdlog::log_clock::time_point when)
{
  const auto since = when.time_since_epoch();
  const std::time_t seconds = std::chrono::duration_cast<std::chrono::seconds>(since).count();
  const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(since).count() % 1000;
  std::tm parts{};
  gmtime_r(&seconds, &parts);
  char text[64];
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", parts.tm_year + 1900, parts.tm_mon + 1,
                parts.tm_mday, parts.tm_hour, parts.tm_min, parts.tm_sec, static_cast<int>(millis));
  return text;
}

// One JSON object per line, written to a FILE* (stderr) or a file it opened.
class JsonLineSink final : public spdlog::sinks::base_sink<std::mutex> {
public:
  explicit JsonLineSink(std::FILE* out, bool owned) : m_out(out), m_owned(owned) {}
  ~JsonLineSink() override
  {
    if (m_owned) std::fclose(m_out);
  }
  JsonLineSink(const JsonLineSink&) = delete;
  JsonLineSink& operator=(const JsonLineSink&) = delete;

protected:
  void sink_it_(const spdlog::details::log_msg& message) override
  {
    const nlohmann::ordered_json line = {{"time", utc_time(message.time)},
                                         {"level", std::string(spdlog::level::to_string_view(message.level).data(),
                                                               spdlog::level::to_string_view(message.level).size())},
                                         {"message", std::string(message.payload.data(), message.payload.size())}};
    const std::string text = line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
    std::fwrite(text.data(), 1, text.size(), m_out);
    std::fflush(m_out);
  }
  void flush_() override { std::fflush(m_out); }

private:
  std::FILE* m_out;
  bool m_owned;
};

} // namespace

void install_logging(const LogOptions& options)
{
  std::vector<spdlog::sink_ptr> sinks;
  const bool json = options.format == "json";
  if (json) {
    sinks.push_back(std::make_shared<JsonLineSink>(stderr, false));
  } else {
    auto console = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
    console->set_formatter(std::make_unique<spdlog::pattern_formatter>(k_text_pattern, spdlog::pattern_time_type::utc));
    sinks.push_back(console);
  }
  if (!options.file.empty()) {
    // Appended to, never a folder created for it (spdlog's file sink would).
    const auto folder = std::filesystem::absolute(options.file).parent_path();
    if (!std::filesystem::is_directory(folder))
      throw UsageError("--log-file " + options.file + ": the folder " + folder.string() + " does not exist");
    if (json) {
      std::FILE* file = std::fopen(options.file.c_str(), "a");
      if (file == nullptr) throw UsageError("--log-file " + options.file + ": cannot open it for appending");
      sinks.push_back(std::make_shared<JsonLineSink>(file, true));
    } else {
      try {
        auto file = std::make_shared<spdlog::sinks::basic_file_sink_mt>(options.file, false);
        file->set_formatter(std::make_unique<spdlog::pattern_formatter>("%Y-%m-%dT%H:%M:%S.%eZ %l: %v",
                                                                        spdlog::pattern_time_type::utc));
        sinks.push_back(file);
      } catch (const spdlog::spdlog_ex& error) {
        throw UsageError("--log-file " + options.file + ": " + error.what());
      }
    }
  }
  auto logger = std::make_shared<spdlog::logger>("fleetrun", sinks.begin(), sinks.end());
  logger->set_level(spdlog::level::from_str(options.level));
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

} // namespace fleetrun::cli
