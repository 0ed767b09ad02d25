'use strict';
// Checks the CLI's validate does not make: every trigger, create and search
// has a sample and labelled output fields, and every key of the sample (and
// of real answers) is one of those labelled fields.

// Zapier's flattening: nested objects become `a__b`; arrays and scalars are leaves.
const flatKeys = (value, prefix = '') => {
  if (value && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length) {
    return Object.entries(value).flatMap(([k, v]) => flatKeys(v, prefix ? `${prefix}__${k}` : k));
  }
  return prefix ? [prefix] : [];
};

// Keys of `item` with no labelled output field. A field marked `dict` or
// `list` (e.g. metadata, the user's own keys) covers everything under it.
const unlabelledKeys = (outputFields, item) => {
  const labelled = new Map((outputFields || []).filter((f) => f.label).map((f) => [f.key, f]));
  return flatKeys(item).filter((key) => {
    if (labelled.has(key)) return false;
    const parts = key.split('__');
    for (let i = parts.length - 1; i > 0; i -= 1) {
      const field = labelled.get(parts.slice(0, i).join('__'));
      if (field && (field.dict || field.list)) return false;
    }
    // A null object (e.g. `output` of an unfinished video) is covered by its children's labels.
    if ([...labelled.keys()].some((k) => k.startsWith(`${key}__`))) return false;
    return true;
  });
};

// Problems of one operation, as readable strings.
const operationProblems = (kind, key, definition) => {
  const where = `${kind}.${key}`;
  const op = definition.operation || {};
  const problems = [];
  if (!op.sample || typeof op.sample !== 'object' || !Object.keys(op.sample).length) {
    problems.push(`${where}: no sample`);
  }
  if (!Array.isArray(op.outputFields) || !op.outputFields.length) {
    problems.push(`${where}: no outputFields`);
  } else {
    op.outputFields
      .filter((f) => !f.label || !String(f.label).trim())
      .forEach((f) => problems.push(`${where}: output field ${f.key} has no label`));
  }
  if (op.sample) {
    unlabelledKeys(op.outputFields, op.sample).forEach((k) =>
      problems.push(`${where}: sample key ${k} is not a labelled output field`),
    );
  }
  if (!definition.noun || !definition.display || !definition.display.label) {
    problems.push(`${where}: noun and display.label are required`);
  }
  return problems;
};

const appProblems = (app) =>
  ['triggers', 'creates', 'searches'].flatMap((kind) =>
    Object.entries(app[kind] || {}).flatMap(([key, def]) => operationProblems(kind, key, def)),
  );

module.exports = { flatKeys, unlabelledKeys, operationProblems, appProblems };
