'use strict';
// The accessors of one field, as protoc-gen-js writes them for proto3: getX/setX, for a field
// in a oneof also clearX/hasX (setting it clears the others), for a message field
// clearX/hasX, for a repeated field getXList/setXList/addX/clearXList, for bytes
// getX_asB64/getX_asU8.

function method(cls, name, params, body, doc) {
  return `/**\n${doc.map((line) => ` * ${line}\n`).join('')} */\n${cls}.prototype.${name} = function(${params}) {\n  ${body}\n};\n\n\n`;
}

function returnsThis(cls) {
  return `@return {!${cls}} returns this`;
}

function bytesViews(f, get) {
  const list = f.repeated ? 'List' : '';
  const convert = (as) => `jspb.Message.bytes${list}As${as}(this.${get}())`;
  const type = (t) => (f.repeated ? `!Array<${t}>` : t);
  return (
    method(f.cls, `${get}_asB64`, '', `return /** @type {${type('string')}} */ (${convert('B64')});`,
      [f.decl, `This is a type-conversion wrapper around \`${get}()\``, `@return {${type('string')}}`]) +
    method(f.cls, `${get}_asU8`, '', `return /** @type {${type('!Uint8Array')}} */ (${convert('U8')});`,
      [f.decl, `This is a type-conversion wrapper around \`${get}()\``, `@return {${type('!Uint8Array')}}`])
  );
}

// clearX and hasX, for the fields that have presence (in a oneof, or a message).
function presence(f, clearBody) {
  return (
    method(f.cls, `clear${f.name}`, '', clearBody, ['Clears the field making it undefined.', returnsThis(f.cls)]) +
    method(f.cls, `has${f.name}`, '', `return jspb.Message.getField(this, ${f.number}) != null;`, ['Returns whether this field is set.', '@return {boolean}'])
  );
}

function messageAccessors(f) {
  const { cls, number: n, typePath: t } = f;
  if (f.repeated) {
    return (
      method(cls, `get${f.name}`, '', `return /** @type{!Array<!${t}>} */ (\n    jspb.Message.getRepeatedWrapperField(this, ${t}, ${n}));`, [f.decl, `@return {!Array<!${t}>}`]) +
      method(cls, `set${f.name}`, 'value', `return jspb.Message.setRepeatedWrapperField(this, ${n}, value);`, [`@param {!Array<!${t}>} value`, returnsThis(cls)]) +
      method(cls, `add${f.single}`, 'opt_value, opt_index', `return jspb.Message.addToRepeatedWrapperField(this, ${n}, opt_value, ${t}, opt_index);`,
        [`@param {!${t}=} opt_value`, '@param {number=} opt_index', `@return {!${t}}`]) +
      method(cls, `clear${f.name}`, '', `return this.set${f.name}([]);`, ['Clears the list making it empty but non-null.', returnsThis(cls)])
    );
  }
  const set = f.oneof === null
    ? `jspb.Message.setWrapperField(this, ${n}, value)`
    : `jspb.Message.setOneofWrapperField(this, ${n}, ${cls}.oneofGroups_[${f.oneof}], value)`;
  return (
    method(cls, `get${f.name}`, '', `return /** @type{?${t}} */ (\n    jspb.Message.getWrapperField(this, ${t}, ${n}));`, [f.decl, `@return {?${t}}`]) +
    method(cls, `set${f.name}`, 'value', `return ${set};`, [`@param {?${t}|undefined} value`, returnsThis(cls)]) +
    presence(f, `return this.set${f.name}(undefined);`)
  );
}

function scalarAccessors(f) {
  const { cls, number: n, scalar: s, js } = f;
  if (f.repeated) {
    const item = s.bytes ? '!(string|Uint8Array)' : js;
    return (
      method(cls, `get${f.name}`, '', `return /** @type {!Array<${item}>} */ (jspb.Message.${s.list}(this, ${n}));`, [f.decl, `@return {!Array<${item}>}`]) +
      (s.bytes ? bytesViews(f, `get${f.name}`) : '') +
      method(cls, `set${f.name}`, 'value', `return jspb.Message.setField(this, ${n}, value || []);`, [`@param {!Array<${item}>} value`, returnsThis(cls)]) +
      method(cls, `add${f.single}`, 'value, opt_index', `return jspb.Message.addToRepeatedField(this, ${n}, value, opt_index);`,
        [`@param {${item}} value`, '@param {number=} opt_index', returnsThis(cls)]) +
      method(cls, `clear${f.name}`, '', `return this.set${f.name}([]);`, ['Clears the list making it empty but non-null.', returnsThis(cls)])
    );
  }
  const get = method(cls, `get${f.name}`, '', `return /** @type {${js}} */ (jspb.Message.${s.get}(this, ${n}, ${s.zero}));`, [f.decl, `@return {${js}}`]);
  const views = s.bytes ? bytesViews(f, `get${f.name}`) : '';
  if (f.oneof === null) {
    return get + views + method(cls, `set${f.name}`, 'value', `return jspb.Message.${s.set}(this, ${n}, value);`, [`@param {${js}} value`, returnsThis(cls)]);
  }
  const group = `${cls}.oneofGroups_[${f.oneof}]`;
  return (
    get + views +
    method(cls, `set${f.name}`, 'value', `return jspb.Message.setOneofField(this, ${n}, ${group}, value);`, [`@param {${js}} value`, returnsThis(cls)]) +
    presence(f, `return jspb.Message.setOneofField(this, ${n}, ${group}, undefined);`)
  );
}

function accessors(f) {
  return f.isMessage ? messageAccessors(f) : scalarAccessors(f);
}

module.exports = { accessors };
