'use strict';
// Values of fixtures/alltypes.proto's messages with every field set, as plain objects for
// messages.js's build(): extremes of each integer type (within 2^53 for the 64-bit ones, which
// are JavaScript numbers), negative numbers in every signed encoding, floats exact in 32 bits.

const bytes = (s) => Buffer.from(s, 'latin1');

const scalars = {
  fDouble: -2.5e300, fFloat: 1.5, fInt64: -(2 ** 53 - 1), fUint64: 2 ** 53 - 1, fInt32: -2147483648,
  fFixed64: 2 ** 40 + 1, fFixed32: 4294967295, fBool: true, fString: 'é😀\u0000', fBytes: bytes('\x00\xff'),
  fUint32: 4294967295, fSfixed32: -2147483648, fSfixed64: -(2 ** 50), fSint32: -1, fSint64: -(2 ** 52), fKind: 2,
};

const repeated = {
  rDouble: [0, -1.25, 1e-300], rFloat: [0.5, -8], rInt64: [-1, 2 ** 53 - 1], rUint64: [0, 2 ** 53 - 1], rInt32: [-1, 0, 7],
  rFixed64: [1, 2 ** 52], rFixed32: [0, 4294967295], rBool: [true, false, true], rString: ['', 'a', 'ü'],
  rBytes: [bytes(''), bytes('\xff')], rUint32: [1, 4294967295], rSfixed32: [-5, 5], rSfixed64: [-(2 ** 40)],
  rSint32: [-2147483648, 2147483647], rSint64: [-(2 ** 53 - 1)], rKind: [0, 2, 1],
  rMessage: [scalars, { ...scalars, fString: 'second' }], rUnpacked: [-3, 300],
};

// Choice: each member of `pick` once, `second` both ways, `nested` set or not (`after`, a
// plain proto3 field, is always there: read back as 0 when not on the wire).
const nested = { name: 'n', inner: { depth: 3 } };
const CHOICES = [
  { pString: 'p', nested, after: -1, sNumber: 5 },
  { pBytes: bytes('\x01'), after: 0, sText: 't' },
  { pInt64: -(2 ** 33), after: 1 },
  { pBool: true, after: 2 },
  { pMessage: { ...scalars, fInt32: 1 }, after: 3 },
  { pKind: 1, after: 4 },
];

// [class name (as under the module), [values]]
const ALL_TYPES = [
  ['Scalars', [scalars]],
  ['Repeated', [repeated]],
  ['Choice', CHOICES],
  ['Choice.Nested', [nested]],
  ['Choice.Nested.Inner', [{ depth: 4294967295 }]],
];

// messages.js's classOf for this package.
function allTypesClass(module) {
  const classes = { rMessage: module.Scalars, pMessage: module.Scalars, nested: module.Choice.Nested, inner: module.Choice.Nested.Inner };
  return (key) => classes[key];
}

module.exports = { ALL_TYPES, allTypesClass };
