'use strict';
// "Generate Video" waits the Zapier way: perform hands z.generateCallbackUrl()
// to the gateway as webhook_url; the gateway's real webhook, caught by a
// local receiver standing in for Zapier's callback endpoint, is fed byte for
// byte to performResume as bundle.cleanedRequest.
const App = require('../index');
const { createAppTester, createCallbackTester, authData, api, sandbox, parseDehydrated } = require('./support/tester');
const { Receiver } = require('./support/servers');
const { unlabelledKeys } = require('./support/definition_checks');

const appTester = createAppTester(App);
const op = App.creates.generate_video.operation;

let receiver;
let callbackTester;

beforeEach(async () => {
  receiver = await new Receiver().start();
  callbackTester = createCallbackTester(App, receiver.url);
});

afterEach(async () => {
  await receiver.stop();
});

// Zapier parses the callback's JSON body into bundle.cleanedRequest.
const asCleanedRequest = (delivery) => JSON.parse(delivery.body.toString('utf8'));

describe('create: Generate Video', () => {
  it('pauses with the callback URL as webhook_url, and resumes from the gateway\'s real webhook', async () => {
    const inputData = {
      prompt: 'a paper boat on a river',
      duration_seconds: '2',
      aspect_ratio: '9:16',
      resolution: '720p',
      metadata: { row: '7', sheet: 'Ideas' },
    };
    const started = await callbackTester(op.perform, { authData: authData(), inputData });
    expect(started.status).toBe('CALLBACK'); // Zapier pauses the task
    const initial = started.results;
    expect(initial.id).toMatch(/^vid_/);
    expect(['queued', 'generating', 'rendering', 'succeeded']).toContain(initial.status);
    expect(initial.webhook_url).toBe(receiver.url);
    expect(initial.webhook_events_filter).toEqual(['completed']);
    expect(initial.file).toBeNull();

    const [delivery] = await receiver.waitFor((list) => list.length >= 1);
    expect(delivery.method).toBe('POST');
    expect(delivery.headers['content-type']).toMatch(/application\/json/);
    expect(delivery.headers['webhook-id']).toBeTruthy();
    expect(delivery.headers['webhook-signature']).toMatch(/^v1,/);
    const cleanedRequest = asCleanedRequest(delivery);
    expect(cleanedRequest.type).toBe('video.completed');

    const finished = await appTester(op.performResume, {
      authData: authData(),
      inputData,
      outputData: initial,
      cleanedRequest,
    });
    expect(finished.id).toBe(initial.id);
    expect(finished.status).toBe('succeeded');
    expect(finished.aspect_ratio).toBe('9:16');
    expect(finished.metadata).toEqual({ row: '7', sheet: 'Ideas' });
    expect(finished.output.content_type).toBe('video/mp4');
    expect(finished.output.size_bytes).toBeGreaterThan(1000);
    const pointer = parseDehydrated(finished.file);
    expect(pointer.method).toBe('hydrators.downloadVideo');
    expect(pointer.bundle).toEqual({ videoId: initial.id, size: finished.output.size_bytes });
    expect(unlabelledKeys(op.outputFields, finished)).toEqual([]);

    // The signed link in the delivered body works without the key.
    const mp4 = await fetch(finished.output.url);
    expect(mp4.status).toBe(200);
    expect(Buffer.from(await mp4.arrayBuffer()).length).toBe(finished.output.size_bytes);
  });

  it('a failed video fails the resumed step with the gateway\'s reason', async () => {
    await sandbox('/_sandbox/faults', { endpoint: 'render_submit', fault: 'export_blocked', times: 1 });
    const started = await callbackTester(op.perform, {
      authData: authData(),
      inputData: { prompt: 'a failing render', duration_seconds: 2 },
    });
    const [delivery] = await receiver.waitFor((list) => list.length >= 1);
    const cleanedRequest = asCleanedRequest(delivery);
    expect(cleanedRequest.type).toBe('video.failed');
    const error = await appTester(op.performResume, {
      authData: authData(),
      outputData: started.results,
      cleanedRequest,
    }).catch((e) => e);
    expect(error).toBeInstanceOf(Error);
    expect(error.message).toContain(started.results.id);
    expect(error.message).toContain('export_blocked');
  });

  it('"Wait for the Video: no" returns the queued video at once, without a callback', async () => {
    const started = await callbackTester(op.perform, {
      authData: authData(),
      inputData: { prompt: 'no waiting', duration_seconds: 2, wait_for_completion: 'false' },
    });
    expect(started.status).not.toBe('CALLBACK');
    expect(started.results.id).toMatch(/^vid_/);
    expect(started.results.webhook_url).toBeNull();
    // Nothing is delivered to the (unused) callback URL.
    await new Promise((r) => setTimeout(r, 1500));
    expect(receiver.received).toHaveLength(0);
  });

  it('in the editor (loading a sample) waits in the request instead of pausing', async () => {
    const started = await callbackTester(op.perform, {
      authData: authData(),
      inputData: { prompt: 'a sample run', duration_seconds: 2 },
      meta: { isLoadingSample: true },
    });
    expect(started.status).not.toBe('CALLBACK');
    expect(started.results.status).toBe('succeeded');
    expect(parseDehydrated(started.results.file).bundle.videoId).toBe(started.results.id);
  });

  it('a refused request surfaces the problem+json detail', async () => {
    const error = await appTester(op.perform, {
      authData: authData(),
      inputData: { prompt: 'too long', duration_seconds: '999', wait_for_completion: false },
    }).catch((e) => e);
    expect(error.name).toBe('AppError');
    const detail = JSON.parse(error.message);
    expect(detail.code).toBe('validation_error');
    expect(detail.status).toBe(422);
    expect(detail.message).toMatch(/duration_seconds/);
  });

  it('a callback that is not a gateway webhook is refused', async () => {
    const error = await appTester(op.performResume, {
      authData: authData(),
      outputData: {},
      cleanedRequest: { hello: 'world' },
    }).catch((e) => e);
    expect(JSON.parse(error.message).code).toBe('invalid_callback');
  });

  it('the stock app tester also works (its echo callback URL is never used by a live gateway)', async () => {
    // Only the non-waiting path: the stock tester's callback URL is Zapier's.
    const result = await appTester(op.perform, {
      authData: authData(),
      inputData: { prompt: 'stock tester', duration_seconds: 2, wait_for_completion: false },
    });
    expect(result.id).toMatch(/^vid_/);
    const listed = await api(`/v1/videos/${result.id}`);
    expect(listed.json.webhook_url).toBeNull();
  });
});
