'use strict';
// Sample: an OpenAI-compatible agent with a default host of its own (as Qwen
// Code defaults to DashScope's "/compatible-mode/v1"): it calls that host
// when OPENAI_BASE_URL is unset and the base URL otherwise, and does the same
// as prefixed_base.js there. Its calls to its own host are provider calls:
// the baseline reaches a provider, and nothing differs but the host.
if (!process.env.OPENAI_BASE_URL) process.env.OPENAI_BASE_URL = 'https://llm.agent-vendor.example/compatible-mode/v1';
require('./prefixed_base.js');
