// phyx/phyx.hpp — the umbrella header: everything in namespace phyx (SPEC).
#pragma once

#include "phyx/clock.hpp"
#include "phyx/errors.hpp"
#include "phyx/event.hpp"
#include "phyx/future.hpp"
#include "phyx/ids.hpp"
#include "phyx/process_ref.hpp"
#include "phyx/reply.hpp"
#include "phyx/result.hpp"
#include "phyx/runtime.hpp"
#include "phyx/spec.hpp"
#include "phyx/stats.hpp"
#include "phyx/status.hpp"
#include "phyx/supervision.hpp"
#include "phyx/task.hpp"
#include "phyx/tools.hpp"
#include "phyx/detail/typed_process.hpp"
