# Fails when a document names a file of the repository (in backquotes or
# plain, like `runner/coordinator.cpp` or docs/STATE.md) that does not exist.
# Usage: cmake -DROOT=<repo> -DDOC=<file> -P check_doc_paths.cmake
file(READ ${DOC} text)
string(REGEX MATCHALL "(losant|api|plans|state|jobs|machine|runner|preview|report|cli|sandbox|tests|bench|docs|scripts|deploy|cmake)/[A-Za-z0-9_./-]+\\.(cpp|hpp|md|cmake|json|yaml|sh|js|in)" paths "${text}")
list(REMOVE_DUPLICATES paths)
set(missing "")
foreach(path IN LISTS paths)
  if(NOT EXISTS ${ROOT}/${path})
    list(APPEND missing ${path})
  endif()
endforeach()
if(missing)
  message(FATAL_ERROR "${DOC} names files that do not exist: ${missing}")
endif()
list(LENGTH paths count)
message(STATUS "${DOC}: all ${count} named files exist")
