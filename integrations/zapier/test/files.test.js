'use strict';
// The MP4 as a file: items carry a dehydrated pointer; the hydrator streams
// /content into z.stashFile. Offline, stashFile's two calls (Zapier's RPC for
// a presigned POST, then the S3-style upload) go to a local fake, which core
// reaches when ZAPIER_BASE_ENDPOINT is set before it is loaded.
const crypto = require('crypto');
const { FakeZapierRpc } = require('./support/servers');

let rpc;
let App;
let t;

beforeAll(async () => {
  rpc = await new FakeZapierRpc().start();
  process.env.ZAPIER_BASE_ENDPOINT = rpc.url;
  process.env.ZAPIER_DEPLOY_KEY = 'offline-test-deploy-key';
  // Loaded only now: core reads ZAPIER_BASE_ENDPOINT when it is first required.
  App = require('../index');
  t = require('./support/tester');
});

// 'hydrators.downloadVideo' -> the function at that path of the app.
const methodAt = (path) => path.split('.').reduce((node, part) => node[part], App);

afterAll(async () => {
  await rpc.stop();
});

describe('files', () => {
  it('hydrating a finished video\'s pointer stashes the exact MP4', async () => {
    const appTester = t.createAppTester(App);
    const video = await t.finishedVideo();
    const [item] = await appTester(App.searches.find_video.operation.perform, {
      authData: t.authData(),
      inputData: { id: video.id },
    });
    const pointer = t.parseDehydrated(item.file);
    expect(pointer.method).toBe('hydrators.downloadVideo');

    const stashedUrl = await appTester(methodAt(pointer.method), { authData: t.authData(), inputData: pointer.bundle });
    expect(stashedUrl).toMatch(new RegExp(`^${rpc.url}/s3/stash/`));
    expect(rpc.calls).toEqual([{ method: 'get_presigned_upload_post_data', deployKey: 'offline-test-deploy-key' }]);

    const stored = rpc.stored.get(new URL(stashedUrl).pathname.slice('/s3/'.length));
    expect(stored.content.length).toBe(video.output.size_bytes);
    expect(crypto.createHash('sha256').update(stored.content).digest('hex')).toBe(video.output.sha256);
    expect(stored.fields['Content-Type']).toBe('video/mp4');
    expect(stored.fields['Content-Disposition']).toContain(`${video.id}.mp4`);
  });

  it('a video that is not finished cannot be hydrated: a readable error', async () => {
    const appTester = t.createAppTester(App);
    const queued = await t.api('/v1/videos', { method: 'POST', body: { prompt: 'not yet', duration_seconds: 2 } });
    await t.api(`/v1/videos/${queued.json.id}/cancel`, { method: 'POST' });
    await t.waitStatus(queued.json.id, ['canceled']);
    const error = await appTester(App.hydrators.downloadVideo, {
      authData: t.authData(),
      inputData: { videoId: queued.json.id },
    }).catch((e) => e);
    expect(JSON.parse(error.message)).toMatchObject({ code: 'video_not_ready', status: 409 });
  });

  it('no stash outside creates and hydrators (the platform rule)', async () => {
    const appTester = t.createAppTester(App);
    const error = await appTester(async (z) => z.stashFile('x'), { authData: t.authData() }).catch((e) => e);
    expect(error.message).toMatch(/only be stashed within a create or hydration/);
  });
});
