// A plain typed WIT component in JavaScript (wit/world.wit): warden offers each export as a
// tool. Nothing here knows about warden.
//
// Build (from examples/js-tools, after `npm ci`):
//   npx componentize-js typed/app.js --wit typed/wit --world-name strings \
//       -d http fetch-event -o strings.wasm

/** Reverses `text`, by Unicode code point. */
export function reverse(text) {
  return [...text].reverse().join("");
}

/** Counts the vowels (a, e, i, o, u, either case) in `text`. */
export function vowels(text) {
  return (text.match(/[aeiou]/gi) || []).length;
}
