'use strict';
// "Edit Video" (the same callback wait as "Generate Video") and "Upload Media"
// (a file field, streamed to POST /v1/uploads, then used by a video).
const http = require('http');
const App = require('../index');
const { createAppTester, createCallbackTester, authData, api, finishedVideo, parseDehydrated } = require('./support/tester');
const { Receiver } = require('./support/servers');
const { unlabelledKeys } = require('./support/definition_checks');

const appTester = createAppTester(App);

// A 1x1 PNG.
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
  'base64',
);

describe('create: Edit Video', () => {
  let receiver;
  beforeEach(async () => {
    receiver = await new Receiver().start();
  });
  afterEach(async () => {
    await receiver.stop();
  });

  it('edits a finished video and resumes from the gateway\'s real webhook', async () => {
    const parent = await finishedVideo({ prompt: 'a lighthouse at dusk' });
    const op = App.creates.edit_video.operation;
    const started = await createCallbackTester(App, receiver.url)(op.perform, {
      authData: authData(),
      inputData: { video_id: parent.id, instruction: 'add a title saying Hello', metadata: { row: '4' } },
    });
    expect(started.status).toBe('CALLBACK');
    expect(started.results.kind).toBe('edit');
    expect(started.results.parent_id).toBe(parent.id);
    expect(started.results.webhook_url).toBe(receiver.url);

    const [delivery] = await receiver.waitFor((l) => l.length >= 1);
    const cleanedRequest = JSON.parse(delivery.body.toString('utf8'));
    const edited = await appTester(op.performResume, {
      authData: authData(),
      outputData: started.results,
      cleanedRequest,
    });
    expect(edited.id).toBe(started.results.id);
    expect(edited.status).toBe('succeeded');
    expect(edited.parent_id).toBe(parent.id);
    expect(edited.metadata).toEqual({ row: '4' });
    expect(parseDehydrated(edited.file).bundle.videoId).toBe(edited.id);
    expect(unlabelledKeys(op.outputFields, edited)).toEqual([]);
  });

  it('an unknown video is a readable error', async () => {
    const error = await appTester(App.creates.edit_video.operation.perform, {
      authData: authData(),
      inputData: { video_id: 'vid_nope', instruction: 'shorter', wait_for_completion: false },
    }).catch((e) => e);
    expect(JSON.parse(error.message)).toMatchObject({ code: 'not_found', status: 404 });
  });
});

describe('create: Upload Media', () => {
  let server;
  let fileUrl;
  beforeAll(async () => {
    // Stands in for the URL Zapier gives a file field.
    server = http.createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': PNG.length });
      res.end(PNG);
    });
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    fileUrl = `http://127.0.0.1:${server.address().port}/files/logo.png`;
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
  });

  it('streams the file to /v1/uploads, and a video uses it', async () => {
    const op = App.creates.upload_media.operation;
    const upload = await appTester(op.perform, { authData: authData(), inputData: { file: fileUrl } });
    expect(upload.id).toMatch(/^upl_/);
    expect(upload.filename).toBe('logo.png');
    expect(upload.format).toBe('png');
    expect(upload.media_type).toBe('image');
    expect(upload.size_bytes).toBe(PNG.length);
    expect(unlabelledKeys(op.outputFields, upload)).toEqual([]);

    const created = await appTester(App.creates.generate_video.operation.perform, {
      authData: authData(),
      inputData: { prompt: 'a logo reveal', duration_seconds: 2, upload_ids: [upload.id], wait_for_completion: false },
    });
    const video = await api(`/v1/videos/${created.id}`);
    expect(video.status).toBe(200);
  });

  it('the file name can be given', async () => {
    const upload = await appTester(App.creates.upload_media.operation.perform, {
      authData: authData(),
      inputData: { file: fileUrl, filename: 'brand.png' },
    });
    expect(upload.filename).toBe('brand.png');
  });

  it('a refused format surfaces the gateway\'s reason', async () => {
    const error = await appTester(App.creates.upload_media.operation.perform, {
      authData: authData(),
      inputData: { file: fileUrl, filename: 'notes.txt' },
    }).catch((e) => e);
    expect(JSON.parse(error.message)).toMatchObject({ code: 'unsupported_media', status: 415 });
  });
});
