'use strict';
// The app definition: schema-valid, every operation sampled and labelled,
// hydrators registered, core pinned exactly.
const createLambdaHandler = require('zapier-platform-core/src/tools/create-lambda-handler');
const App = require('../index');
const pkg = require('../package.json');
const { appProblems, operationProblems, unlabelledKeys } = require('./support/definition_checks');

describe('app definition', () => {
  it('passes the platform schema (what `zapier validate` asks core; ci.sh also runs the CLI)', async () => {
    const response = await createLambdaHandler(App)({ command: 'validate' });
    expect(response.results.map((e) => e.stack || e)).toEqual([]);
  });

  it('that validation does catch a broken definition', async () => {
    const broken = { ...App, triggers: { ...App.triggers, video_ready: { ...App.triggers.video_ready, noun: undefined, extra: 1 } } };
    const response = await createLambdaHandler(broken)({ command: 'validate' });
    expect(response.results.length).toBeGreaterThan(0);
  });

  it('pins zapier-platform-core to an exact version of the current major', () => {
    expect(pkg.dependencies['zapier-platform-core']).toMatch(/^\d+\.\d+\.\d+$/);
    expect(pkg.dependencies['zapier-platform-core']).toBe(require('zapier-platform-core').version);
    expect(App.platformVersion).toBe(pkg.dependencies['zapier-platform-core']);
  });

  it('has the operations the issue lists', () => {
    expect(Object.keys(App.triggers).sort()).toEqual(
      ['video_failed', 'video_failed_polling', 'video_ready', 'video_ready_polling'],
    );
    expect(Object.keys(App.creates).sort()).toEqual(['edit_video', 'generate_video', 'upload_media']);
    expect(Object.keys(App.searches)).toEqual(['find_video']);
    expect(App.triggers.video_ready.operation.type).toBe('hook');
    expect(App.triggers.video_failed.operation.type).toBe('hook');
    expect(typeof App.creates.generate_video.operation.performResume).toBe('function');
    expect(typeof App.creates.edit_video.operation.performResume).toBe('function');
  });

  it('gives every trigger, create and search a sample and labelled output fields', () => {
    expect(appProblems(App)).toEqual([]);
  });

  it('registers the hydrator that items point to', () => {
    expect(App.hydrators.downloadVideo).toBe(require('../hydrators').downloadVideo);
  });

  describe('the check itself fails', () => {
    const base = App.creates.generate_video;

    it('on a missing sample', () => {
      const broken = { ...base, operation: { ...base.operation, sample: undefined } };
      expect(operationProblems('creates', 'generate_video', broken)).toContain('creates.generate_video: no sample');
    });

    it('on an output field without a label', () => {
      const fields = base.operation.outputFields.map((f) => (f.key === 'status' ? { key: 'status' } : f));
      const broken = { ...base, operation: { ...base.operation, outputFields: fields } };
      expect(operationProblems('creates', 'generate_video', broken)).toEqual(
        expect.arrayContaining([
          'creates.generate_video: output field status has no label',
          'creates.generate_video: sample key status is not a labelled output field',
        ]),
      );
    });

    it('on a sample key that no output field labels', () => {
      const broken = { ...base, operation: { ...base.operation, sample: { ...base.operation.sample, surprise: 1 } } };
      expect(operationProblems('creates', 'generate_video', broken)).toEqual([
        'creates.generate_video: sample key surprise is not a labelled output field',
      ]);
    });

    it('but accepts the user\'s own metadata keys under a dict field', () => {
      expect(unlabelledKeys(base.operation.outputFields, { metadata: { anything: 'x' } })).toEqual([]);
    });
  });
});
