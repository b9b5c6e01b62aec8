/** A text field's content and where its cursor is (0 = before the first character). */
export interface Field {
  value: string;
  cursor: number;
}

/** The edit keys a field knows, as their terminal bytes: Ctrl-A/E (start/end), Ctrl-U (erase to the start), Ctrl-W (erase a word), Backspace. */
const controlEdits: Record<string, (field: Field) => Field> = {
  '\x01': ({ value }) => ({ value, cursor: 0 }),
  '\x05': ({ value }) => ({ value, cursor: value.length }),
  '\x15': ({ value, cursor }) => ({ value: value.slice(cursor), cursor: 0 }),
  '\x17': ({ value, cursor }) => {
    const start = value.slice(0, cursor).replace(/\S+\s*$/, '').length;
    return { value: value.slice(0, start) + value.slice(cursor), cursor: start };
  },
  '\x7f': ({ value, cursor }) => (cursor > 0 ? { value: value.slice(0, cursor - 1) + value.slice(cursor), cursor: cursor - 1 } : { value, cursor }),
};
controlEdits['\b'] = controlEdits['\x7f'];

/**
 * Applies typed text to a field, byte by byte: a terminal hands over keys typed quickly (or
 * over a slow link) as one string — "ab", twelve Backspaces, text and its Enter — and each must
 * count. Stops at Enter, returning `submitted`.
 */
export function typeInto(field: Field, text: string): Field & { submitted: boolean } {
  let next = field;
  for (const char of text) {
    if (char === '\r' || char === '\n') return { ...next, submitted: true };
    const edit = controlEdits[char];
    if (edit) next = edit(next);
    else if (char >= ' ') next = { value: next.value.slice(0, next.cursor) + char + next.value.slice(next.cursor), cursor: next.cursor + 1 };
  }
  return { ...next, submitted: false };
}
