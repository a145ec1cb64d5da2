// SPDX-License-Identifier: MIT
// Drives a real `moefit serve` on a tiny random-weight model with the official openai client.
// The weights are random, so the checks are about the protocol: shapes, ids, usage counts,
// finish reasons, errors, concurrency, cancellation, determinism. Tool calls and reasoning use
// the server's --testing-scripted-replies hook (scripted_replies.json): the model "says" a fixed
// text, which still goes through the tokenizer, the scheduler and every output parser.
//   node e2e.mjs MOEFIT_BINARY MODEL.gguf SCRIPTED_REPLIES.json   (E2E_NODE_MODULES: where openai is)
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import net from 'node:net';
import path from 'node:path';

const require = createRequire(path.join(process.env.E2E_NODE_MODULES, '..', 'package.json'));
const openai = require('openai');
const OpenAI = openai.OpenAI ?? openai.default ?? openai;

const [moefit, modelPath, repliesPath] = process.argv.slice(2);
const KEY = 'e2e-secret-key-0123456789';
const MODEL = 'tiny-moe';
// Long enough that the 4 scripted stories of 'a full queue answers 503' are still running while
// all its 14 requests arrive (at 2048 a faster engine finished some of them first; 1500 x 'many
// words ' is ~4500 tokens, still past it).
const CONTEXT = 4096;  // the test model's trained context
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ---- the server ---------------------------------------------------------------------------
let serverLog = '';
const server = spawn(moefit, ['serve', '-m', modelPath, '--host', '127.0.0.1', '--port', '0', '--alias', MODEL,
  '--parallel', '4', '--queue', '4', '--ctx', String(CONTEXT), '--threads', '2', '--api-key', KEY,
  '--max-body', '65536', '--timeout', '3', '--keep-alive', '1', '--exit-after', '500', '--testing-scripted-replies', repliesPath],
{ stdio: ['ignore', 'pipe', 'pipe'] });
server.stderr.on('data', (data) => { serverLog += data; });
process.on('exit', () => { if (server.exitCode === null) server.kill('SIGKILL'); });
const port = await new Promise((resolve, reject) => {
  let out = '';
  const timer = setTimeout(() => reject(new Error(`no "listening on" line within 60 s; log:\n${serverLog}`)), 60_000);
  server.stdout.on('data', (data) => {
    out += data;
    const match = out.match(/listening on http:\/\/127\.0\.0\.1:(\d+)/);
    if (match) { clearTimeout(timer); resolve(Number(match[1])); }
  });
  server.on('exit', (code) => reject(new Error(`the server exited (${code}) before listening; log:\n${serverLog}`)));
});
const BASE = `http://127.0.0.1:${port}`;
const client = new OpenAI({ apiKey: KEY, baseURL: `${BASE}/v1`, maxRetries: 0, timeout: 120_000 });

// ---- helpers ------------------------------------------------------------------------------
async function raw(method, route, body, { key = KEY, rawBody } = {}) {
  const headers = { 'content-type': 'application/json' };
  if (key) headers.authorization = `Bearer ${key}`;
  const response = await fetch(BASE + route, { method, headers, body: rawBody ?? (body === undefined ? undefined : JSON.stringify(body)) });
  const text = await response.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* metrics and errors without JSON stay text */ }
  return { status: response.status, json, text };
}

function assertErrorObject(result, status, { code, param } = {}) {
  assert.equal(result.status, status, `HTTP status (body: ${result.text})`);
  const error = result.json?.error;
  assert.ok(error, `an error object: ${result.text}`);
  assert.equal(typeof error.message, 'string');
  assert.ok(error.message.length > 0);
  assert.equal(typeof error.type, 'string');
  assert.ok('param' in error && 'code' in error, 'param and code are present (null when unused)');
  if (code !== undefined) assert.equal(error.code, code);
  if (param !== undefined) assert.equal(error.param, param);
}

// A usage object without prompt_tokens_details: how many prompt tokens an earlier request left in
// the KV cache depends on what ran before, the counts do not.
function counts(usage) {
  const { prompt_tokens_details: details, ...rest } = usage;
  assert.ok(Number.isInteger(details.cached_tokens) && details.cached_tokens >= 0 && details.cached_tokens < usage.prompt_tokens);
  return rest;
}

function assertUsage(usage, maxTokens, finishReason) {
  assert.ok(usage, 'usage present');
  assert.ok(Number.isInteger(usage.prompt_tokens) && usage.prompt_tokens > 0);
  assert.ok(Number.isInteger(usage.completion_tokens) && usage.completion_tokens >= 0);
  assert.equal(usage.total_tokens, usage.prompt_tokens + usage.completion_tokens);
  counts(usage);  // prompt_tokens_details.cached_tokens is there and in range
  if (finishReason === 'length') assert.equal(usage.completion_tokens, maxTokens);
  else assert.ok(usage.completion_tokens <= maxTokens);
}

function assertCompletionEnvelope(response, object, prefix) {
  assert.equal(response.object, object);
  assert.ok(response.id.startsWith(prefix), response.id);
  assert.equal(response.model, MODEL);
  assert.ok(Math.abs(response.created - Date.now() / 1000) < 120, 'created is a current unix time in seconds');
}

const user = (content) => [{ role: 'user', content }];

// Streams a chat completion; returns the joined text, reasoning, tool calls, finish reason, usage.
async function streamChat(params) {
  const stream = await client.chat.completions.create({ model: MODEL, stream: true, stream_options: { include_usage: true }, ...params });
  const out = { content: '', reasoning: '', calls: [], finish: null, usage: null, chunks: 0, ids: new Set(), roleFirst: false };
  for await (const chunk of stream) {
    out.ids.add(chunk.id);
    assert.equal(chunk.object, 'chat.completion.chunk');
    if (chunk.usage) { out.usage = chunk.usage; assert.deepEqual(chunk.choices, []); continue; }
    const choice = chunk.choices[0];
    if (out.chunks++ === 0) out.roleFirst = choice.delta.role === 'assistant';
    out.content += choice.delta.content ?? '';
    out.reasoning += choice.delta.reasoning_content ?? '';
    for (const call of choice.delta.tool_calls ?? []) {
      out.calls[call.index] ??= { id: '', name: '', arguments: '' };
      const target = out.calls[call.index];
      if (call.id) target.id = call.id;
      target.name += call.function?.name ?? '';
      target.arguments += call.function?.arguments ?? '';
    }
    if (choice.finish_reason) { assert.equal(out.finish, null, 'one finish_reason'); out.finish = choice.finish_reason; }
  }
  assert.equal(out.ids.size, 1, 'every chunk carries the same id');
  assert.ok(out.roleFirst, 'the first chunk opens the assistant role');
  assert.ok(out.finish, 'a finish_reason arrived');
  return out;
}

async function health() {
  const result = await raw('GET', '/health', undefined, { key: null });
  assert.equal(result.status, 200);
  return result.json;
}

async function metric(name) {
  const result = await raw('GET', '/metrics');
  const line = result.text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.split(' ')[1]);
}

async function waitIdle(ms = 15_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const state = await health();
    if (state.active_sequences === 0 && state.queued === 0) return;
    if (Date.now() > deadline) throw new Error(`still busy: ${JSON.stringify(state)}`);
    await sleep(50);
  }
}

// ---- tests --------------------------------------------------------------------------------
const tests = [];
const test = (name, body) => tests.push({ name, body });

test('GET /v1/models lists the model', async () => {
  const page = await client.models.list();
  assert.deepEqual(page.data.map((m) => m.id), [MODEL]);
  assert.equal(page.data[0].object, 'model');
  const one = await client.models.retrieve(MODEL);
  assert.equal(one.id, MODEL);
});

test('non-streaming chat completion', async () => {
  const response = await client.chat.completions.create({ model: MODEL, messages: user('Hello!'), max_tokens: 8, temperature: 0, seed: 1 });
  assertCompletionEnvelope(response, 'chat.completion', 'chatcmpl-');
  assert.equal(response.choices.length, 1);
  const [choice] = response.choices;
  assert.equal(choice.index, 0);
  assert.equal(choice.message.role, 'assistant');
  assert.equal(typeof choice.message.content, 'string');
  assert.ok(['stop', 'length'].includes(choice.finish_reason));
  assertUsage(response.usage, 8, choice.finish_reason);
});

test('streaming chat completion with usage equals the non-streaming text', async () => {
  const params = { messages: user('Say something.'), max_tokens: 12, temperature: 0 };
  const whole = await client.chat.completions.create({ model: MODEL, ...params });
  const streamed = await streamChat(params);
  assert.equal(streamed.content, whole.choices[0].message.content);
  assert.equal(streamed.finish, whole.choices[0].finish_reason);
  assert.deepEqual(counts(streamed.usage), counts(whole.usage));
  assertUsage(streamed.usage, 12, streamed.finish);
  // The same prompt again: its KV cells are reused but for the last token, whose logits start the reply.
  assert.equal(streamed.usage.prompt_tokens_details.cached_tokens, streamed.usage.prompt_tokens - 1);
});

test('max_completion_tokens and stop strings', async () => {
  const response = await client.chat.completions.create({ model: MODEL, messages: user('Think before you answer.'), max_completion_tokens: 64, stop: ['my brief'] });
  assert.equal(response.choices[0].finish_reason, 'stop');
  assert.equal(response.choices[0].message.content, 'Here is ');
  assert.equal(response.choices[0].message.reasoning_content, 'The user wants me to reason first.\nThen answer briefly.');
  assert.ok(response.usage.completion_tokens < 40);
});

test('chat_template_kwargs and response_format reach the prompt', async () => {
  const promptTokens = async (extra) => (await client.chat.completions.create({ model: MODEL, messages: user('Hi'), max_tokens: 1, ...extra })).usage.prompt_tokens;
  const plain = await promptTokens({});
  // Qwen3's template adds an empty <think></think> block when thinking is off.
  assert.ok(await promptTokens({ chat_template_kwargs: { enable_thinking: false } }) > plain);
  assert.ok(await promptTokens({ response_format: { type: 'json_object' } }) > plain);
  const parts = await promptTokens({ messages: [{ role: 'user', content: [{ type: 'text', text: 'Hi' }] }] });
  assert.equal(parts, plain, 'a text part is the same as string content');
});

test('a tool call, sent back with its result', async () => {
  const tools = [{ type: 'function', function: { name: 'get_weather', description: 'Current weather', parameters: { type: 'object', properties: { city: { type: 'string' }, unit: { type: 'string' } }, required: ['city'] } } }];
  const messages = user('What is the weather in Paris?');
  const first = await client.chat.completions.create({ model: MODEL, messages, tools, max_tokens: 100 });
  const { message, finish_reason: finish } = first.choices[0];
  assert.equal(finish, 'tool_calls');
  assert.equal(message.content, null);
  assert.equal(message.tool_calls.length, 1);
  const [call] = message.tool_calls;
  assert.ok(call.id.startsWith('call_'));
  assert.equal(call.type, 'function');
  assert.equal(call.function.name, 'get_weather');
  assert.deepEqual(JSON.parse(call.function.arguments), { city: 'Paris', unit: 'celsius' });
  assertUsage(first.usage, 100, finish);

  const second = await client.chat.completions.create({
    model: MODEL, tools, max_tokens: 100,
    messages: [...messages, message, { role: 'tool', tool_call_id: call.id, content: '{"temperature": 21, "sky": "clear"}' }],
  });
  assert.equal(second.choices[0].message.content, 'It is 21 °C and clear in Paris.');
  assert.equal(second.choices[0].finish_reason, 'stop');
  assert.ok(second.usage.prompt_tokens > first.usage.prompt_tokens, 'the history (call and result) is in the prompt');
  assert.ok(second.usage.prompt_tokens_details.cached_tokens >= first.usage.prompt_tokens,
            'the first request\'s prompt is not evaluated again');
});

test('streamed tool calls (two, with content before them)', async () => {
  const tools = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
  const out = await streamChat({ messages: user('Compare Paris and Oslo.'), tools, max_tokens: 100 });
  assert.equal(out.finish, 'tool_calls');
  assert.equal(out.content, 'I will look both up.');
  assert.deepEqual(out.calls.map((c) => [c.name, JSON.parse(c.arguments).city]), [['get_weather', 'Paris'], ['get_weather', 'Oslo']]);
  assert.ok(out.calls.every((c) => c.id.startsWith('call_')) && out.calls[0].id !== out.calls[1].id);
  const single = await client.chat.completions.create({ model: MODEL, messages: user('Compare Paris and Oslo.'), tools, parallel_tool_calls: false, max_tokens: 100 });
  assert.equal(single.choices[0].message.tool_calls.length, 1);
  const none = await client.chat.completions.create({ model: MODEL, messages: user('Compare Paris and Oslo.'), tools, tool_choice: 'none', max_tokens: 100 });
  assert.equal(none.choices[0].message.tool_calls, undefined);
  assert.ok(none.choices[0].message.content.includes('<tool_call>'));
  assert.equal(none.choices[0].finish_reason, 'stop');
});

test('reasoning_content, streamed and not', async () => {
  const expected = { reasoning: 'The user wants me to reason first.\nThen answer briefly.', content: 'Here is my brief answer.' };
  const whole = await client.chat.completions.create({ model: MODEL, messages: user('Think before you answer.'), max_tokens: 64 });
  assert.equal(whole.choices[0].message.reasoning_content, expected.reasoning);
  assert.equal(whole.choices[0].message.content, expected.content);
  assert.equal(whole.choices[0].finish_reason, 'stop');
  const streamed = await streamChat({ messages: user('Think before you answer.'), max_tokens: 64 });
  assert.deepEqual({ reasoning: streamed.reasoning, content: streamed.content }, expected);
  assert.deepEqual(counts(streamed.usage), counts(whole.usage));
  // The next turn: the template leaves the reasoning out of the history, so the cells of the
  // first turn's prompt are reused (shared from the slot that holds the reasoning too).
  const next = await client.chat.completions.create({ model: MODEL, max_tokens: 4, messages: [
    ...user('Think before you answer.'), { role: 'assistant', content: expected.content }, ...user('Thanks.')] });
  assert.ok(next.usage.prompt_tokens_details.cached_tokens >= whole.usage.prompt_tokens,
            `${next.usage.prompt_tokens_details.cached_tokens} of ${next.usage.prompt_tokens} reused`);
});

test('legacy completions, streamed and not', async () => {
  const response = await client.completions.create({ model: MODEL, prompt: 'Once upon a time', max_tokens: 6, temperature: 0 });
  assertCompletionEnvelope(response, 'text_completion', 'cmpl-');
  assert.equal(typeof response.choices[0].text, 'string');
  assertUsage(response.usage, 6, response.choices[0].finish_reason);
  const stream = await client.completions.create({ model: MODEL, prompt: 'Once upon a time', max_tokens: 6, temperature: 0, stream: true });
  let text = '';
  for await (const chunk of stream) text += chunk.choices[0]?.text ?? '';
  assert.equal(text, response.choices[0].text);
});

test('8 concurrent streams all finish with correct usage', async () => {
  const params = (i) => ({ messages: user(`Stream ${i}: a few words about the sea, please.`), max_tokens: 24 + i });
  const alone = await client.chat.completions.create({ model: MODEL, ...params(0), max_tokens: 1 });
  const streams = await Promise.all(Array.from({ length: 8 }, (_, i) => streamChat(params(i))));
  for (const [i, out] of streams.entries()) {
    assertUsage(out.usage, 24 + i, out.finish);
    assert.equal(out.usage.prompt_tokens, alone.usage.prompt_tokens, `stream ${i}: prompt tokens`);
  }
  await waitIdle();
});

test('same seed and temperature 0: identical text alone and batched with others', async () => {
  const params = (i) => ({ messages: user(`Request ${i}: describe a lighthouse.`), max_tokens: 32, seed: 7 + (i % 2),
    temperature: i < 2 ? 0 : 0.9 });
  // Requests 0 and 1 are greedy; 2 and 3 sample with a seed: each must repeat exactly.
  const alone = [];
  for (let i = 0; i < 4; ++i) alone.push(await client.chat.completions.create({ model: MODEL, ...params(i) }));
  await waitIdle();
  const noise = (i) => ({ messages: user(`Noise ${i}: anything at all.`), max_tokens: 40, temperature: 1 });
  const batched = await Promise.all([...[0, 1, 2, 3].map((i) => streamChat(params(i))), ...[0, 1, 2, 3].map((i) => streamChat(noise(i)))]);
  for (let i = 0; i < 4; ++i) {
    assert.equal(batched[i].content, alone[i].choices[0].message.content, `request ${i}: same text alone and batched`);
    assert.equal(batched[i].finish, alone[i].choices[0].finish_reason);
    assert.deepEqual(counts(batched[i].usage), counts(alone[i].usage));
  }
  await waitIdle();
});

// The story is a scripted reply longer than the context: it only ends early if cancelled.
const story = { messages: user('Tell me a very long story.'), stream: true };

test('a client dropping mid-stream has its sequence cancelled; the server stays healthy', async () => {
  const before = await metric('moefit_generated_tokens_total');
  const stream = await client.chat.completions.create({ model: MODEL, ...story });
  let chunks = 0;
  for await (const chunk of stream) { if (chunk.choices[0]?.delta?.content && ++chunks >= 3) break; }
  stream.controller.abort();
  await waitIdle(10_000);
  assert.equal(await metric('moefit_kv_cells_used'), 0, 'its KV cells are free');
  const generated = (await metric('moefit_generated_tokens_total')) - before;
  assert.ok(generated < CONTEXT / 2, `generation stopped early (${generated} tokens, not the ~${CONTEXT} of a full context)`);
  const after = await client.chat.completions.create({ model: MODEL, messages: user('Still there?'), max_tokens: 4 });
  assertUsage(after.usage, 4, after.choices[0].finish_reason);
});

test('a full queue answers 503', async () => {
  // 4 sequences + 4 waiting are accepted; the rest of 14 simultaneous requests are refused.
  const attempts = await Promise.all(Array.from({ length: 14 }, () => client.chat.completions.create({ model: MODEL, ...story }).then(
    (stream) => ({ status: 200, stream }), (error) => ({ status: error.status }))));
  for (const { stream } of attempts) stream?.controller.abort();
  const statuses = attempts.map((a) => a.status);
  assert.equal(statuses.filter((s) => s === 200).length, 8, `parallel + queue were served: ${statuses}`);
  assert.equal(statuses.filter((s) => s === 503).length, 6, String(statuses));
  await waitIdle();
});

test('bad requests get the right status and error object', async () => {
  const chat = '/v1/chat/completions';
  const ok = { model: MODEL, messages: user('hi'), max_tokens: 2 };
  assertErrorObject(await raw('POST', chat, undefined, { rawBody: '{"messages": [' }), 400);
  assertErrorObject(await raw('POST', chat, []), 400);
  assertErrorObject(await raw('POST', chat, { model: MODEL }), 400, { param: 'messages' });
  assertErrorObject(await raw('POST', chat, { ...ok, messages: 'hi' }), 400, { param: 'messages' });
  assertErrorObject(await raw('POST', chat, { ...ok, messages: [] }), 400, { param: 'messages' });
  assertErrorObject(await raw('POST', chat, { ...ok, messages: [{ role: 'wizard', content: 'x' }] }), 400, { param: 'messages[0].role' });
  assertErrorObject(await raw('POST', chat, { ...ok, messages: [{ role: 'user', content: 42 }] }), 400, { param: 'messages[0].content' });
  assertErrorObject(await raw('POST', chat, { ...ok, messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'x' } }] }] }), 400, { param: 'messages[0].content[0].type' });
  assertErrorObject(await raw('POST', chat, { ...ok, temperature: 'hot' }), 400, { param: 'temperature' });
  assertErrorObject(await raw('POST', chat, { ...ok, temperature: 5 }), 400, { param: 'temperature' });
  assertErrorObject(await raw('POST', chat, { ...ok, max_tokens: -1 }), 400, { param: 'max_tokens' });
  assertErrorObject(await raw('POST', chat, { ...ok, max_tokens: 1.5 }), 400, { param: 'max_tokens' });
  assertErrorObject(await raw('POST', chat, { ...ok, stream: 'yes' }), 400, { param: 'stream' });
  assertErrorObject(await raw('POST', chat, { ...ok, stop: 5 }), 400, { param: 'stop' });
  assertErrorObject(await raw('POST', chat, { ...ok, n: 2 }), 400, { param: 'n' });
  assertErrorObject(await raw('POST', chat, { ...ok, seed: 'x' }), 400, { param: 'seed' });
  assertErrorObject(await raw('POST', chat, { ...ok, tools: {} }), 400, { param: 'tools' });
  assertErrorObject(await raw('POST', chat, { ...ok, tools: [{ type: 'function', function: { name: 'a' } }], tool_choice: { type: 'function', function: { name: 'b' } } }), 400, { param: 'tool_choice' });
  assertErrorObject(await raw('POST', chat, { ...ok, stream_options: true }), 400, { param: 'stream_options' });
  assertErrorObject(await raw('POST', chat, { ...ok, model: 'gpt-4o' }), 404, { code: 'model_not_found', param: 'model' });
  assertErrorObject(await raw('POST', '/v1/embeddings', ok), 404);
  assertErrorObject(await raw('GET', chat), 404);
  assertErrorObject(await raw('POST', chat, { ...ok, messages: user('x'.repeat(100_000)) }), 413);
  assertErrorObject(await raw('POST', chat, { ...ok, messages: user('many words '.repeat(1500)) }), 400, { code: 'context_length_exceeded', param: 'messages' });
  assertErrorObject(await raw('POST', '/v1/completions', { model: MODEL }), 400, { param: 'prompt' });
  assertErrorObject(await raw('POST', '/v1/completions', { model: MODEL, prompt: 12 }), 400, { param: 'prompt' });
  assertErrorObject(await raw('POST', '/v1/completions', { model: MODEL, prompt: [1, 2, 99999999] }), 400, { param: 'prompt' });
  // Authentication: missing, wrong (same length), and through the client.
  assertErrorObject(await raw('POST', chat, ok, { key: null }), 401, { code: 'invalid_api_key' });
  assertErrorObject(await raw('POST', chat, ok, { key: KEY.replace(/.$/, 'X') }), 401, { code: 'invalid_api_key' });
  assertErrorObject(await raw('GET', '/metrics', undefined, { key: 'nope' }), 401);
  const stranger = new OpenAI({ apiKey: 'wrong', baseURL: `${BASE}/v1`, maxRetries: 0 });
  await assert.rejects(stranger.models.list(), (error) => error.status === 401 && error.code === 'invalid_api_key');
  await assert.rejects(client.chat.completions.create({ ...ok, model: 'other' }), (error) => error.status === 404 && error.code === 'model_not_found');
  // Unknown fields are ignored; null means absent.
  const lenient = await raw('POST', chat, { ...ok, user: 'x', metadata: { a: 1 }, frobnicate: true, temperature: null, stop: null });
  assert.equal(lenient.status, 200, lenient.text);
  // Still serving, and every refusal was counted.
  assert.equal((await health()).status, 'ok');
  const metrics = (await raw('GET', '/metrics')).text;
  assert.match(metrics, /moefit_requests_total\{route="\/v1\/chat\/completions",status="400"\} \d+/);
  assert.match(metrics, /moefit_requests_total\{route="\/v1\/chat\/completions",status="413"\} 1/);
  assert.match(metrics, /moefit_queue_depth 0/);
});

test('an idle client is disconnected after the timeout', async () => {
  const started = Date.now();
  const closed = await new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write('POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n'));
    socket.on('data', () => {});
    socket.on('error', () => {});
    socket.on('close', () => resolve(true));
    setTimeout(() => { socket.destroy(); resolve(false); }, 15_000);
  });
  assert.ok(closed, 'the server closed the connection');
  assert.ok(Date.now() - started < 10_000, 'within the read timeout plus the keep-alive wait');
});

// ---- run ----------------------------------------------------------------------------------
let failed = 0;
for (const { name, body } of tests) {
  const started = Date.now();
  try {
    await body();
    console.log(`ok - ${name} (${Date.now() - started} ms)`);
  } catch (error) {
    ++failed;
    console.log(`not ok - ${name}\n  ${String(error?.stack ?? error).replaceAll('\n', '\n  ')}`);
  }
}
server.kill('SIGTERM');
const exitCode = await new Promise((resolve) => {
  const timer = setTimeout(() => { server.kill('SIGKILL'); resolve('killed'); }, 15_000);
  server.on('exit', (code) => { clearTimeout(timer); resolve(code); });
});
if (exitCode !== 0) { ++failed; console.log(`not ok - the server stops cleanly on SIGTERM (exit ${exitCode})`); }
if (failed) console.log(`--- server log ---\n${serverLog}`);
console.log(`${tests.length - failed >= 0 ? tests.length + 1 - failed : 0}/${tests.length + 1} passed`);
process.exit(failed ? 1 : 0);
