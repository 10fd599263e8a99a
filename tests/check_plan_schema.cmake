# Fails when plans/plan.schema.json differs from `fleetrun plan-schema`.
# Regenerate with: build/cli/fleetrun plan-schema > plans/plan.schema.json
execute_process(COMMAND ${FLEETRUN} plan-schema OUTPUT_VARIABLE generated RESULT_VARIABLE result)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "fleetrun plan-schema failed")
endif()
file(READ ${EXPECTED} committed)
if(NOT generated STREQUAL committed)
  message(FATAL_ERROR "plans/plan.schema.json is stale; run: fleetrun plan-schema > plans/plan.schema.json")
endif()
