'use strict';
// "Video Ready" / "Video Failed": REST hooks on POST/DELETE /v1/webhooks, fed
// the gateway's real deliveries (a local receiver stands in for Zapier's hook
// URL), and their polling variants over GET /v1/videos?status=...
const App = require('../index');
const { createAppTester, authData, api, sandbox, finishedVideo, parseDehydrated } = require('./support/tester');
const { Receiver } = require('./support/servers');
const { unlabelledKeys } = require('./support/definition_checks');

const appTester = createAppTester(App);
const T = App.triggers;

let receiver;
beforeEach(async () => {
  receiver = await new Receiver().start();
});
afterEach(async () => {
  await receiver.stop();
});

const cleaned = (delivery) => JSON.parse(delivery.body.toString('utf8'));
const subscribe = (trigger) =>
  appTester(T[trigger].operation.performSubscribe, { authData: authData(), targetUrl: receiver.url });
const unsubscribe = (trigger, subscribeData) =>
  appTester(T[trigger].operation.performUnsubscribe, { authData: authData(), subscribeData });

describe('REST hook: Video Ready', () => {
  it('subscribes, turns the delivered webhook into the Video, and unsubscribes', async () => {
    const subscribeData = await subscribe('video_ready');
    expect(subscribeData.id).toMatch(/^whk_/);
    expect(subscribeData.secret).toMatch(/^whsec_/);
    expect(subscribeData.url).toBe(receiver.url);
    expect(subscribeData.events).toEqual(['video.completed']);
    try {
      const video = await finishedVideo({ metadata: { row: '12' } });
      const deliveries = await receiver.waitFor((l) => l.some((d) => cleaned(d).data.id === video.id));
      const delivery = deliveries.find((d) => cleaned(d).data.id === video.id);
      expect(delivery.headers['webhook-signature']).toMatch(/^v1,/);

      const items = await appTester(T.video_ready.operation.perform, {
        authData: authData(),
        subscribeData,
        cleanedRequest: cleaned(delivery),
      });
      expect(items).toHaveLength(1);
      expect(items[0].id).toBe(video.id);
      expect(items[0].status).toBe('succeeded');
      expect(items[0].metadata).toEqual({ row: '12' });
      expect(parseDehydrated(items[0].file).bundle.videoId).toBe(video.id);
      expect(unlabelledKeys(T.video_ready.operation.outputFields, items[0])).toEqual([]);
    } finally {
      const gone = await unsubscribe('video_ready', subscribeData);
      expect(gone).toEqual({ id: subscribeData.id, deleted: true });
    }
    const after = await api(`/v1/webhooks/${subscribeData.id}`);
    expect(after.status).toBe(404);

    // Unsubscribed: the next video is not delivered here.
    const count = receiver.received.length;
    await finishedVideo();
    await new Promise((r) => setTimeout(r, 1500));
    expect(receiver.received).toHaveLength(count);

    // Unsubscribing twice (Zapier may retry) is not an error.
    await expect(unsubscribe('video_ready', subscribeData)).resolves.toEqual({ id: subscribeData.id, deleted: true });
  });

  it('ignores a body of another event type or shape', async () => {
    const failedBody = { type: 'video.failed', timestamp: '2026-01-01T00:00:00Z', data: require('../samples/video_failed.json') };
    const run = (cleanedRequest) => appTester(T.video_ready.operation.perform, { authData: authData(), cleanedRequest });
    await expect(run(failedBody)).resolves.toEqual([]);
    await expect(run({ unrelated: true })).resolves.toEqual([]);
  });

  it('performList gives finished videos, newest first, for samples', async () => {
    const older = await finishedVideo();
    const newer = await finishedVideo();
    const items = await appTester(T.video_ready.operation.performList, { authData: authData(), meta: { isLoadingSample: true } });
    expect(items.length).toBeLessThanOrEqual(3);
    expect(items.map((i) => i.id).slice(0, 2)).toEqual([newer.id, older.id]);
    expect(items.every((i) => i.status === 'succeeded')).toBe(true);
  });
});

describe('after Zapier drops a hook', () => {
  it('its 410 Gone answer disables the subscription at the gateway', async () => {
    const gone = await new Receiver(() => 410).start();
    try {
      const subscribeData = await appTester(T.video_ready.operation.performSubscribe, {
        authData: authData(),
        targetUrl: gone.url,
      });
      try {
        await finishedVideo();
        await gone.waitFor((l) => l.length >= 1);
        let state;
        for (let i = 0; i < 50; i += 1) {
          state = (await api(`/v1/webhooks/${subscribeData.id}`)).json;
          if (state.status === 'disabled') break;
          await new Promise((r) => setTimeout(r, 100));
        }
        expect(state.status).toBe('disabled');
      } finally {
        await unsubscribe('video_ready', subscribeData);
      }
    } finally {
      await gone.stop();
    }
  });
});

describe('REST hook: Video Failed', () => {
  it('delivers failed videos with their error', async () => {
    const subscribeData = await subscribe('video_failed');
    expect(subscribeData.events).toEqual(['video.failed']);
    try {
      await sandbox('/_sandbox/faults', { endpoint: 'render_submit', fault: 'export_blocked', times: 1 });
      const video = await finishedVideo({ prompt: 'this render is blocked' });
      expect(video.status).toBe('failed');
      const deliveries = await receiver.waitFor((l) => l.some((d) => cleaned(d).data.id === video.id));
      const body = cleaned(deliveries.find((d) => cleaned(d).data.id === video.id));
      expect(body.type).toBe('video.failed');
      const items = await appTester(T.video_failed.operation.perform, { authData: authData(), cleanedRequest: body });
      expect(items).toHaveLength(1);
      expect(items[0].id).toBe(video.id);
      expect(items[0].error.code).toBe('export_blocked');
      expect(items[0].file).toBeNull();
      expect(unlabelledKeys(T.video_failed.operation.outputFields, items[0])).toEqual([]);

      const listed = await appTester(T.video_failed.operation.performList, { authData: authData() });
      expect(listed[0].id).toBe(video.id);
    } finally {
      await unsubscribe('video_failed', subscribeData);
    }
  });
});

describe('polling variants', () => {
  it('Video Ready (Polling) lists succeeded videos newest first, each with a unique id', async () => {
    const a = await finishedVideo();
    const b = await finishedVideo();
    const items = await appTester(T.video_ready_polling.operation.perform, { authData: authData() });
    expect(items.slice(0, 2).map((i) => i.id)).toEqual([b.id, a.id]);
    expect(new Set(items.map((i) => i.id)).size).toBe(items.length);
    expect(items.every((i) => i.status === 'succeeded' && i.file.startsWith('hydrate|||'))).toBe(true);
    items.forEach((i) => expect(unlabelledKeys(T.video_ready_polling.operation.outputFields, i)).toEqual([]));
  });

  it('Video Failed (Polling) lists failed videos only', async () => {
    await sandbox('/_sandbox/faults', { endpoint: 'render_submit', fault: 'export_blocked', times: 1 });
    const failed = await finishedVideo({ prompt: 'blocked again' });
    const items = await appTester(T.video_failed_polling.operation.perform, { authData: authData() });
    expect(items[0].id).toBe(failed.id);
    expect(items.every((i) => i.status === 'failed')).toBe(true);
  });

  it('loads at most a few items as samples', async () => {
    const items = await appTester(T.video_ready_polling.operation.perform, {
      authData: authData(),
      meta: { isLoadingSample: true },
    });
    expect(items.length).toBeGreaterThan(0);
    expect(items.length).toBeLessThanOrEqual(3);
  });
});
