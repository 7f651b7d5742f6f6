// Test-only (linked into gate_fake_upstream): what a strict OpenAI Chat
// Completions server checks, and a scripted model for agent tests.
//
// ValidateChatRequest rejects what api.openai.com rejects: unknown members
// at the top level, in messages (per role), content parts, tools and
// tool_choice; wrong types; tool messages that answer no preceding tool
// call; assistant tool calls left unanswered. The message is OpenAI's own
// wording where it has one ("Unrecognized request argument supplied: x").
//
// ScriptedToolReply plays a model that calls one tool once and then
// answers with what the tool returned, so an agent completes a turn that
// runs a tool against a fake upstream.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace glassbox::gate::testing {

// nullopt when `body` is a valid Chat Completions request, else the reason.
std::optional<std::string> ValidateChatRequest(std::string_view body);

struct ScriptedTool {
  std::string name;       // call this tool (when the request offers it)
  std::string arguments;  // with these arguments (a JSON object)
};

// The scripted answer to a Chat request, as response body chunks (one
// chunk for JSON, SSE events for "stream": true); nullopt when the script
// does not apply (no such tool offered, and no tool result to answer).
struct ScriptedReply {
  bool stream = false;
  std::vector<std::string> chunks;
};
std::optional<ScriptedReply> ScriptedToolReply(std::string_view body, const ScriptedTool& tool);

}  // namespace glassbox::gate::testing
