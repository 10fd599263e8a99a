# The batch machine's library references no logging, HTTP, SQLite or CLI
# code: not one undefined symbol of its objects is spdlog's, Poco's, SQLite's
# or CLI11's. Usage: cmake -DLIBRARY=<libfleetrun_machine.a> -DNM=<nm> -P purity.cmake
execute_process(COMMAND ${NM} -C --undefined-only ${LIBRARY} OUTPUT_VARIABLE symbols RESULT_VARIABLE result)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "${NM} could not read ${LIBRARY}")
endif()
string(REGEX MATCHALL "[^\n]*(spdlog|Poco::|sqlite3|CLI::)[^\n]*" impure "${symbols}")
if(impure)
  string(REPLACE ";" "\n  " listed "${impure}")
  message(FATAL_ERROR "the batch machine's library needs:\n  ${listed}")
endif()
string(REGEX MATCHALL "\n +U " undefined "${symbols}")
list(LENGTH undefined count)
message(STATUS "${LIBRARY}: ${count} undefined symbols, none of spdlog, Poco, SQLite or CLI11")
