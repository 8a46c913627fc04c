#!/usr/bin/env node
// nodemailer-send.js - the nodemailer side of tools/bench-send.
//
// Sends --messages N messages to an SMTP sink with nodemailer's pooled SMTP transport
// (pool: true, maxConnections = --concurrency, maxMessages = Infinity so connections are
// kept like kirim's, no TLS). Each message is rendered from the same kirim template file as
// kirim's (Subject line + "--- text" part, {{field}} replaced from the recipients CSV row), so
// nodemailer does the same work: render, compose MIME, send. At most 4 x concurrency messages
// are handed to the pool at a time (nodemailer queues in an array; 100,000 at once would
// measure its queue, not its sending).
//
// Usage: node nodemailer-send.js --port P [--host H] --messages N --concurrency C
//                                --template FILE --list CSV [--from ADDR] [--modules DIR]
//        node nodemailer-send.js --size-only [--dump FILE] --template FILE --list CSV
// Prints one JSON line: {"sent":..,"failed":..,"seconds":..,...}; exits 1 if any failed.
// --size-only composes the first recipient's message, prints {"message_bytes":..} and exits
// (no network); --dump FILE also writes that message (CRLF) to FILE.
// --modules DIR: the node_modules directory holding nodemailer.
'use strict';

const fs = require('fs');
const path = require('path');

function die(msg) {
	process.stderr.write('nodemailer-send: ' + msg + '\n');
	process.exit(1);
}

const opt = {
	host: '127.0.0.1',
	port: 0,
	messages: 0,
	concurrency: 1,
	template: '',
	list: '',
	from: 'Bench <bench@example.com>',
	modules: '',
	sizeOnly: false,
	dump: '',
};
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
	const a = argv[i];
	const v = () => {
		if (i + 1 >= argv.length) die(a + ' wants a value');
		return argv[++i];
	};
	switch (a) {
	case '--host': opt.host = v(); break;
	case '--port': opt.port = parseInt(v(), 10); break;
	case '--messages': opt.messages = parseInt(v(), 10); break;
	case '--concurrency': opt.concurrency = parseInt(v(), 10); break;
	case '--template': opt.template = v(); break;
	case '--list': opt.list = v(); break;
	case '--from': opt.from = v(); break;
	case '--modules': opt.modules = v(); break;
	case '--size-only': opt.sizeOnly = true; break;
	case '--dump': opt.dump = v(); break;
	default: die('unknown argument ' + a);
	}
}
if (!opt.template || !opt.list) die('--template and --list are required');
if (!opt.sizeOnly && (!(opt.port > 0) || !(opt.messages > 0) || !(opt.concurrency > 0)))
	die('--port, --messages and --concurrency must be positive');

let nodemailer;
try {
	nodemailer = opt.modules ? require(path.join(opt.modules, 'nodemailer')) : require('nodemailer');
} catch (e) {
	die('cannot load nodemailer (' + e.message + '); npm install it and pass --modules DIR');
}

// The template: "Subject: S\n\n--- text\nBODY" (the format kirim's template add reads).
const tpl = fs.readFileSync(opt.template, 'utf8');
const m = /^Subject: (.*)\n\n--- text\n([\s\S]*)$/.exec(tpl);
if (!m) die(opt.template + ': not a "Subject: ...\\n\\n--- text\\n..." template');
const subjectTpl = m[1];
const textTpl = m[2];

// The same plain {{field}} substitution as the template uses (no sections or defaults in it).
function render(t, row) {
	return t.replace(/\{\{\s*([a-z_.]+)\s*\}\}/g, (_, k) => (k in row ? row[k] : ''));
}

// Recipients: the CSV written by gen-list.py (plain ASCII, no quoting).
const lines = fs.readFileSync(opt.list, 'ascii').split('\n');
const header = lines[0].split(',');
const rows = [];
for (let i = 1; i < lines.length && rows.length < Math.max(opt.messages, 1); i++) {
	if (!lines[i]) continue;
	const f = lines[i].split(',');
	const r = {};
	header.forEach((h, j) => { r[h] = f[j]; });
	rows.push(r);
}
if (!rows.length) die(opt.list + ': no recipients');

function mail(i) {
	const r = rows[i % rows.length];
	return {
		from: opt.from,
		to: { name: r.first_name + ' ' + r.last_name, address: r.email },
		subject: render(subjectTpl, r),
		text: render(textTpl, r),
	};
}

if (opt.sizeOnly) {
	const t = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'windows' });
	t.sendMail(mail(0), (err, info) => {
		if (err) die(err.message);
		if (opt.dump) fs.writeFileSync(opt.dump, info.message);
		process.stdout.write(JSON.stringify({ message_bytes: info.message.length }) + '\n');
	});
	return;
}

const transport = nodemailer.createTransport({
	host: opt.host,
	port: opt.port,
	secure: false,
	ignoreTLS: true,
	pool: true,
	maxConnections: opt.concurrency,
	maxMessages: Infinity,
	name: 'bench.example',
});

const window = 4 * opt.concurrency;
let next = 0, inflight = 0, sent = 0, failed = 0, firstErr = '';
const t0 = process.hrtime.bigint();

function finish() {
	const secs = Number(process.hrtime.bigint() - t0) / 1e9;
	transport.close();
	process.stdout.write(JSON.stringify({ sent, failed, seconds: +secs.toFixed(3),
		concurrency: opt.concurrency, nodemailer: nodemailer_version() }) + '\n');
	if (failed) process.stderr.write('nodemailer-send: ' + failed + ' failed, first: ' + firstErr + '\n');
	process.exitCode = failed ? 1 : 0;
}

function nodemailer_version() {
	try {
		const dir = opt.modules ? path.join(opt.modules, 'nodemailer') : path.dirname(require.resolve('nodemailer'));
		return JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).version;
	} catch (e) {
		return 'unknown';
	}
}

function pump() {
	while (inflight < window && next < opt.messages) {
		const i = next++;
		inflight++;
		transport.sendMail(mail(i), (err) => {
			inflight--;
			if (err) {
				failed++;
				if (!firstErr) firstErr = err.message;
			} else {
				sent++;
			}
			if (sent + failed === opt.messages) finish();
			else pump();
		});
	}
}
pump();
