import { describe, expect, it } from 'vitest';
import { csvCell, toCsv } from '../../src/domain/csv.js';

describe('toCsv', () => {
  it('starts with at,type and adds every other field in first-seen order', () => {
    const csv = toCsv([
      { at: '2024-05-06T10:00:00.000Z', type: 'nudge_sent', nudgeId: 'n1', level: 1 },
      { type: 'break_taken', at: '2024-05-06T10:02:00.000Z', sittingSeconds: 1900, level: 2, snoozes: 0 },
    ]);
    expect(csv).toBe(
      'at,type,nudgeId,level,sittingSeconds,snoozes\r\n' +
        '2024-05-06T10:00:00.000Z,nudge_sent,n1,1,,\r\n' +
        '2024-05-06T10:02:00.000Z,break_taken,,2,1900,0\r\n',
    );
  });

  it('writes epoch-ms and ISO `at` values alike as ISO 8601', () => {
    const ms = Date.parse('2024-05-06T10:00:00Z');
    expect(
      toCsv([
        { at: ms, type: 'heat_on' },
        { at: '2024-05-06T10:00:00.000Z', type: 'heat_off' },
      ]),
    ).toBe('at,type\r\n2024-05-06T10:00:00.000Z,heat_on\r\n2024-05-06T10:00:00.000Z,heat_off\r\n');
  });

  it('quotes commas, quotes, CR and LF per RFC 4180', () => {
    const csv = toCsv([
      { at: 0, type: 'pain_logged', refers: 'down the arm, "sharp"', note: 'line1\nline2', r: 'a\rb' },
    ]);
    expect(csv).toBe(
      'at,type,refers,note,r\r\n' +
        '1970-01-01T00:00:00.000Z,pain_logged,"down the arm, ""sharp""","line1\nline2","a\rb"\r\n',
    );
  });

  it('JSON-encodes arrays and objects', () => {
    const csv = toCsv([{ at: 0, type: 'pain_logged', symptoms: ['numbness', 'fever'], meta: { a: 1 } }]);
    expect(csv.split('\r\n')[1]).toBe('1970-01-01T00:00:00.000Z,pain_logged,"[""numbness"",""fever""]","{""a"":1}"');
  });

  it('leaves null and missing values empty and writes booleans plainly', () => {
    expect(toCsv([{ at: 0, type: 'x', nudged: true, gone: null, missing: undefined }]).split('\r\n')[1]).toBe(
      '1970-01-01T00:00:00.000Z,x,true,,',
    );
  });

  it('answers an empty log with the header alone', () => {
    expect(toCsv([])).toBe('at,type\r\n');
  });
});

describe('csvCell formula guard', () => {
  it('defuses cells a spreadsheet would run as a formula', () => {
    expect(csvCell('=HYPERLINK("http://x")')).toBe(`"'=HYPERLINK(""http://x"")"`);
    expect(csvCell('+cmd')).toBe("'+cmd");
    expect(csvCell('-2+3')).toBe("'-2+3");
    expect(csvCell('@SUM(A1)')).toBe("'@SUM(A1)");
    expect(csvCell('\t=1')).toBe("'\t=1");
  });

  it('leaves numbers, including signed ones, untouched', () => {
    expect(csvCell(-5)).toBe('-5');
    expect(csvCell('-5')).toBe('-5');
    expect(csvCell('+1.5')).toBe('+1.5');
    expect(csvCell('-1e3')).toBe('-1e3');
    expect(csvCell('plain text')).toBe('plain text');
  });

  it('applies to whole rows', () => {
    expect(toCsv([{ at: 0, type: 'heat_refused', reason: '=1+1' }]).split('\r\n')[1]).toBe(
      "1970-01-01T00:00:00.000Z,heat_refused,'=1+1",
    );
  });
});
