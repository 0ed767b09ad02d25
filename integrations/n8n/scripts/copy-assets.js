// Copies the icons next to the compiled code: dist/icons/*.svg (tsc copies only .ts output).
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const from = path.join(root, 'icons');
const to = path.join(root, 'dist', 'icons');
fs.mkdirSync(to, { recursive: true });
for (const name of fs.readdirSync(from)) {
	if (name.endsWith('.svg')) fs.copyFileSync(path.join(from, name), path.join(to, name));
}
