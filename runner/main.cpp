#include "runner/commands.hpp"

int main(int argc, char** argv)
{
  return fleetrun::runner::run_cli(argc, argv);
}
