/// \file
/// phyx/phyx.hpp — the umbrella header: everything in namespace phyx (SPEC).
#pragma once

#include "phyx/clock.hpp"
#include "phyx/errors.hpp"
#include "phyx/event.hpp"
#include "phyx/future.hpp"
#include "phyx/histogram.hpp"
#include "phyx/ids.hpp"
#include "phyx/journal.hpp"
#include "phyx/process_ref.hpp"
#include "phyx/prometheus.hpp"
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

/// \namespace phyx
/// The whole public API (SPEC): Runtime, ProcessSpec, ProcessRef, Tools, Future, Journal and
/// their types. `phyx::detail` holds what the templates need; it is not part of the contract.
