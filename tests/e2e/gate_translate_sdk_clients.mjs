// The official SDKs as clients of a gate that translates to a Chat
// Completions upstream (tests/e2e/gate_translate_e2e.sh). Argument: the
// gate's base URL. Prints one line per check; exits 1 on the first failure.
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { GoogleGenAI } from '@google/genai';

const base = process.argv[2];
let failures = 0;
function check(name, cond, detail) {
  console.log(`${cond ? 'ok' : 'FAIL'} ${name}${cond ? '' : ': ' + JSON.stringify(detail).slice(0, 600)}`);
  if (!cond) failures++;
}
async function attempt(name, fn) {
  try {
    await fn();
  } catch (e) {
    check(name, false, String(e && e.stack || e));
  }
}

const anthropic = new Anthropic({ baseURL: base, apiKey: 'sk-ant-e2e-client-key', maxRetries: 0 });
const tools = [{
  name: 'get_weather', description: 'Weather of a city',
  input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
}];

await attempt('anthropic messages.create', async () => {
  const m = await anthropic.messages.create({
    model: 'claude-sonnet-4-5', max_tokens: 64, system: [{ type: 'text', text: 'Be brief.', cache_control: { type: 'ephemeral' } }],
    messages: [{ role: 'user', content: 'Say hello' }], temperature: 0.2, stop_sequences: ['END'],
  });
  check('anthropic messages.create', m.type === 'message' && m.content[0].type === 'text' && m.content[0].text.length > 0 &&
        m.stop_reason === 'end_turn' && m.usage.output_tokens > 0, m);
});

await attempt('anthropic messages.stream with a forced tool', async () => {
  const stream = anthropic.messages.stream({
    model: 'claude-sonnet-4-5', max_tokens: 64, tools, tool_choice: { type: 'tool', name: 'get_weather' },
    messages: [{ role: 'user', content: 'Weather in Oslo?' }],
  });
  const events = [];
  stream.on('streamEvent', (e) => events.push(e.type));
  const m = await stream.finalMessage();
  const use = m.content.find((b) => b.type === 'tool_use');
  check('anthropic messages.stream with a forced tool', use && use.name === 'get_weather' && typeof use.input.city === 'string' &&
        m.stop_reason === 'tool_use' && events[0] === 'message_start' && events.at(-1) === 'message_stop', { m, events });
  // The tool's result goes back: tool_use/tool_result become tool_calls/tool messages.
  const m2 = await anthropic.messages.create({
    model: 'claude-sonnet-4-5', max_tokens: 64, tools,
    messages: [{ role: 'user', content: 'Weather in Oslo?' }, { role: 'assistant', content: m.content },
               { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: 'sunny, 21 C' },
                                         { type: 'text', text: 'Thanks' }] }],
  });
  check('anthropic tool_result round trip', m2.content.length > 0 && m2.stop_reason === 'end_turn', m2);
});

await attempt('anthropic count_tokens estimate', async () => {
  const c = await anthropic.messages.countTokens({ model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'Hello there, how are you?' }] });
  check('anthropic count_tokens estimate', c.input_tokens > 0 && c.glassbox_estimate === true, c);
});

await attempt('anthropic untranslatable refusal', async () => {
  try {
    await anthropic.messages.create({ model: 'claude-sonnet-4-5', max_tokens: 10, messages: [{ role: 'user', content: [
      { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: 'JVBERi0xLjQK' } },
      { type: 'text', text: 'Summarise' }] }] });
    check('anthropic untranslatable refusal', false, 'no error');
  } catch (e) {
    check('anthropic untranslatable refusal', e.status === 400 && /document/.test(e.message) && e.error?.error?.type === 'invalid_request_error', { status: e.status, msg: e.message });
  }
});

const openai = new OpenAI({ baseURL: base + '/v1', apiKey: 'sk-e2e-client-key', maxRetries: 0 });
await attempt('openai responses.create', async () => {
  const r = await openai.responses.create({ model: 'gpt-5-codex', instructions: 'Be brief.', input: 'Say hello', max_output_tokens: 64 });
  check('openai responses.create', r.status === 'completed' && r.output_text.length > 0 && r.usage.output_tokens > 0, r);
});
await attempt('openai responses stream with a function tool', async () => {
  const stream = await openai.responses.create({
    model: 'gpt-5-codex', input: [{ role: 'user', content: 'Weather in Oslo?' }], stream: true,
    tools: [{ type: 'function', name: 'get_weather', strict: false, parameters: tools[0].input_schema }],
    tool_choice: { type: 'function', name: 'get_weather' },
  });
  let completed = null, deltas = 0;
  for await (const ev of stream) {
    if (ev.type === 'response.function_call_arguments.delta') deltas++;
    if (ev.type === 'response.completed') completed = ev.response;
  }
  const call = completed && completed.output.find((o) => o.type === 'function_call');
  check('openai responses stream with a function tool', call && call.name === 'get_weather' && JSON.parse(call.arguments).city !== undefined && deltas > 0, completed);
});
await attempt('openai chat.completions (native route, model renamed)', async () => {
  const c = await openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
  check('openai chat.completions (native route, model renamed)', c.choices[0].message.content.length > 0, c);
});

const genai = new GoogleGenAI({ apiKey: 'gemini-e2e-client-key', httpOptions: { baseUrl: base } });
const weatherDecl = { name: 'get_weather', description: 'Weather of a city',
                      parameters: { type: 'OBJECT', properties: { city: { type: 'STRING' } }, required: ['city'] } };
await attempt('gemini generateContent', async () => {
  const r = await genai.models.generateContent({ model: 'gemini-2.5-pro', contents: 'Say hello',
                                                 config: { systemInstruction: 'Be brief.', temperature: 0, maxOutputTokens: 64 } });
  check('gemini generateContent', typeof r.text === 'string' && r.text.length > 0 && r.candidates[0].finishReason === 'STOP', r);
});
await attempt('gemini generateContentStream with a function', async () => {
  const stream = await genai.models.generateContentStream({
    model: 'gemini-2.5-pro', contents: 'Weather in Oslo?',
    config: { tools: [{ functionDeclarations: [weatherDecl] }],
              toolConfig: { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['get_weather'] } } },
  });
  let calls = [], finish = null;
  for await (const chunk of stream) {
    if (chunk.functionCalls) calls.push(...chunk.functionCalls);
    if (chunk.candidates?.[0]?.finishReason) finish = chunk.candidates[0].finishReason;
  }
  check('gemini generateContentStream with a function', calls.length === 1 && calls[0].name === 'get_weather' && finish === 'STOP', { calls, finish });
  // And the function's response goes back.
  const r = await genai.models.generateContent({
    model: 'gemini-2.5-pro',
    contents: [{ role: 'user', parts: [{ text: 'Weather in Oslo?' }] },
               { role: 'model', parts: [{ functionCall: calls[0] }] },
               { role: 'user', parts: [{ functionResponse: { name: 'get_weather', response: { output: 'sunny' } } }] }],
    config: { tools: [{ functionDeclarations: [weatherDecl] }] },
  });
  check('gemini functionResponse round trip', r.text.length > 0, r);
});

process.exit(failures ? 1 : 0);
