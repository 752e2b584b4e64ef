// The official OpenAI and Anthropic Node SDKs against a running router. Run by FatJarIT:
//   node check.mjs <router base URL, e.g. http://127.0.0.1:8000/v1> serve|fallback
// Behind the router: backend b1 serves m-a (10 stream chunks, 100 ms apart), b2 serves m-b; the alias fast is
// m-a, and m-a falls back to m-b. In "fallback", b1 is down. Exits non-zero on the first broken expectation.
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';

const [baseURL, phase] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey: 'sk-client-key', maxRetries: 0, timeout: 30_000 });
const hi = [{ role: 'user', content: 'hi' }];
const anthropic = new Anthropic({ baseURL: baseURL.replace(/\/v1$/, ''), apiKey: 'sk-client-key', maxRetries: 0, timeout: 30_000 });

// the Responses API and the Messages API, plain and streamed: the text arrives delta by delta, as generated
async function responsesAndMessages(model, server) {
  const response = await client.responses.create({ model, input: 'hi' });
  assert.match(response.output_text, new RegExp(server));
  const t0 = Date.now();
  const at = [];
  let text = '';
  for await (const event of await client.responses.create({ model, input: 'hi', stream: true })) {
    if (event.type === 'response.output_text.delta') {
      at.push(Date.now() - t0);
      text += event.delta;
    }
  }
  assert.ok(at.length > 0, 'Responses stream deltas');
  const message = await anthropic.messages.create({ model, max_tokens: 16, messages: hi });
  assert.match(message.content[0].text, new RegExp(server));
  let streamed = '';
  const stream = anthropic.messages.stream({ model, max_tokens: 16, messages: hi });
  stream.on('text', t => { streamed += t; });
  const final = await stream.finalMessage();
  assert.equal(final.content[0].text, streamed);
  assert.ok(streamed.length > 0, 'Messages stream text');
  return { at, text, model: response.model, messageModel: message.model };
}

async function streamed(model) {
  const t0 = Date.now();
  const stream = await client.chat.completions.create({ model, stream: true, stream_options: { include_usage: true }, messages: hi });
  const at = [];
  let text = '';
  let usage = null;
  for await (const chunk of stream) {
    if (chunk.choices[0]?.delta?.content) {
      at.push(Date.now() - t0);
      text += chunk.choices[0].delta.content;
    }
    if (chunk.usage) {
      usage = chunk.usage;
    }
  }
  return { at, text, usage };
}

if (phase === 'serve') {
  const models = await client.models.list();
  assert.deepEqual(models.data.map(m => m.id).sort(), ['fast', 'm-a', 'm-b']);

  const { data: chat, response } = await client.chat.completions.create({ model: 'fast', messages: hi }).withResponse();
  assert.equal(chat.model, 'm-a', 'the alias is answered by its model');
  assert.match(chat.choices[0].message.content, /b1/);
  assert.equal(response.headers.get('x-served-by'), 'b1');
  assert.equal(response.headers.get('x-llm-router-model'), 'm-a');
  assert.ok(response.headers.get('x-request-id'));

  const s = await streamed('m-a');
  assert.equal(s.at.length, 10, 'ten content chunks');
  assert.ok(s.at[9] - s.at[0] > 700, `chunks arrive as the backend makes them: ${s.at}`);
  assert.equal(s.usage?.completion_tokens, 10);

  const completion = await client.completions.create({ model: 'm-b', prompt: 'hi' });
  assert.equal(completion.model, 'm-b');
  assert.match(completion.choices[0].text, /b2/);

  // the SDK asks for base64 and decodes it: the router passes both ways through untouched
  const embedding = await client.embeddings.create({ model: 'm-b', input: 'hi' });
  assert.equal(embedding.data[0].embedding.length, 3);
  assert.ok(Math.abs(embedding.data[0].embedding[1] - 0.2) < 1e-6, `${embedding.data[0].embedding}`);

  await assert.rejects(client.chat.completions.create({ model: 'nope', messages: hi }), e => {
    assert.ok(e instanceof OpenAI.NotFoundError, e.constructor.name);
    assert.equal(e.status, 404);
    assert.equal(e.code, 'model_not_found');
    assert.equal(e.type, 'invalid_request_error');
    assert.equal(e.param, 'model');
    return true;
  });
  await assert.rejects(client.chat.completions.create({ messages: hi }), e => {
    assert.ok(e instanceof OpenAI.BadRequestError, e.constructor.name);
    assert.equal(e.param, 'model');
    return true;
  });

  const r = await responsesAndMessages('m-a', 'b1');
  assert.equal(r.text, 'w0 w1 w2 w3 w4 w5 w6 w7 w8 w9 ');
  assert.ok(r.at[9] - r.at[0] > 700, `Responses deltas arrive as the backend makes them: ${r.at}`);
  await assert.rejects(anthropic.messages.create({ model: 'nope', max_tokens: 16, messages: hi }), e => {
    assert.ok(e instanceof Anthropic.NotFoundError, e.constructor.name);
    return true;
  });
} else if (phase === 'fallback') {
  const { data: chat, response } = await client.chat.completions.create({ model: 'm-a', messages: hi }).withResponse();
  assert.equal(chat.model, 'm-b', 'm-a is down: its fallback m-b answers, under its own name');
  assert.equal(response.headers.get('x-served-by'), 'b2');
  assert.equal(response.headers.get('x-llm-router-fallback-from'), 'm-a');
  const s = await streamed('fast');
  assert.ok(s.at.length > 0, 'the alias streams through the fallback');
  assert.equal(s.usage?.completion_tokens, s.at.length);
  const r = await responsesAndMessages('m-a', 'b2');
  assert.equal(r.model, 'm-b');
  assert.equal(r.messageModel, 'm-b');
} else {
  throw new Error(`unknown phase ${phase}`);
}
console.log(`official OpenAI and Anthropic clients: ${phase} ok`);
