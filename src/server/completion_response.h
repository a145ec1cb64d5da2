// SPDX-License-Identifier: MIT
// Runs a CompletionJob through the scheduler and answers with OpenAI's response objects: one
// JSON body, or server-sent events (chunks, the final finish_reason, optional usage, [DONE]).
#pragma once

#include <httplib.h>

#include "runtime/scheduler.h"
#include "server/completion_job.h"
#include "server/served_model.h"

namespace moefit {

// Submits the job and fills `response`. Refusals (503 queue full, 400 context exceeded) throw
// ApiError before anything is sent. A streamed response's provider keeps the request's
// stream; a client that goes away cancels it, which frees its sequence at once.
void RespondToJob(Scheduler& scheduler, const ServedModel& model, CompletionJob job, httplib::Response& response);

}  // namespace moefit
