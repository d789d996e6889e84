import { LadeError } from '@lade/digest';
import { describe, expect, it } from 'vitest';
import { compileTemplate, printValue, sprintf, TemplateError, toGoJson } from '../src/format/index.js';

const run = (template: string, data: unknown, options?: { missingFields?: 'error' | 'no-value' }) =>
  compileTemplate(template).execute(data, options);

function expectTemplateError(fn: () => unknown, message: string): void {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught, 'expected a TemplateError').toBeInstanceOf(TemplateError);
  expect(caught).toBeInstanceOf(LadeError);
  expect((caught as TemplateError).code).toBe('FORMAT_INVALID');
  expect((caught as TemplateError).message).toBe(message);
}

describe('docker/cli templates_test.go vectors', () => {
  it('json of a field (GitHub #32120)', () => {
    expect(run('{{json .Ports}}', { Ports: '0.0.0.0:2->8/udp' })).toBe('"0.0.0.0:2->8/udp"');
  });

  it('join and split in a parenthesised pipeline', () => {
    expect(run('{{join (split . ":") "/"}}', 'text:with:colon')).toBe('text/with/colon');
  });

  it('a plain dot with spaces inside the action', () => {
    expect(run('this is a {{ . }}', 'string')).toBe('this is a string');
  });

  it('json of the whole value', () => {
    expect(run('{{json .}}', { foo: 42 })).toBe('{"foo":42}');
  });

  it.each([
    ['{{truncate . 5}}', 'tupx5'],
    ['{{truncate . 25}}', 'tupx5xzf6hvsrhnruz5cr8gwp'],
    ['{{truncate . 30}}', 'tupx5xzf6hvsrhnruz5cr8gwp'],
    ['{{pad . 3 3}}', '   tupx5xzf6hvsrhnruz5cr8gwp   '],
  ])('%s', (template, expected) => {
    expect(run(template, 'tupx5xzf6hvsrhnruz5cr8gwp')).toBe(expected);
    expect(run(template, '')).toBe('');
    expect(() => run(template, null)).toThrow(TemplateError);
  });
});

describe('fields', () => {
  const data = { Repository: 'ubuntu', Config: { Env: ['A=1', 'B=2'], Labels: { 'org.x': 'y' }, User: '' }, Size: 123 };

  it('reads fields, nested fields and the dot', () => {
    expect(run('{{.Repository}}', data)).toBe('ubuntu');
    expect(run('{{.Config.Env}}', data)).toBe('[A=1 B=2]');
    expect(run('{{.Size}}', data)).toBe('123');
    expect(run('{{.Config.Labels}}', data)).toBe('map[org.x:y]');
    expect(run('{{.}}', 'x')).toBe('x');
    expect(run('{{$}}', 7)).toBe('7');
  });

  it('calls methods and getters, with arguments', () => {
    class Row {
      constructor(private readonly id: string) {}
      get ID(): string {
        return this.id.slice(0, 3);
      }
      Short(n: number): string {
        return this.id.slice(0, n);
      }
    }
    const row = new Row('abcdef');
    expect(run('{{.ID}}', row)).toBe('abc');
    expect(run('{{.Short 2}}', row)).toBe('ab');
    expect(run('{{4 | .Short}}', row)).toBe('abcd');
    expect(run('{{json .}}', row)).toBe('{"ID":"abc"}');
  });

  it("fails on a missing field like docker's typed contexts", () => {
    expectTemplateError(
      () => run('{{.Nope}}', { Repository: 'x' }),
      'template parsing error: template: :1:2: executing "" at <.Nope>: can\'t evaluate field Nope in type map[string]interface {}',
    );
    expectTemplateError(
      () => run('x\n {{.A.B}}', { A: 'str' }),
      'template parsing error: template: :2:5: executing "" at <.A.B>: can\'t evaluate field B in type string',
    );
  });

  it('prints <no value> for a missing key when asked to treat objects as maps (inspect)', () => {
    expect(run('{{.Nope}}', { A: 1 }, { missingFields: 'no-value' })).toBe('<no value>');
    expect(run('{{.Nope.Deeper}}', { A: 1 }, { missingFields: 'no-value' })).toBe('<no value>');
    expect(run('{{if .Nope}}y{{else}}n{{end}}', {}, { missingFields: 'no-value' })).toBe('n');
    expect(run('{{.A}}', { A: null })).toBe('<nil>');
  });

  it('reads Map entries', () => {
    expect(run('{{.a}}', new Map([['a', 1]]))).toBe('1');
    expect(
      run(
        '{{.}}',
        new Map([
          ['b', 2],
          ['a', 1],
        ]),
      ),
    ).toBe('map[a:1 b:2]');
  });
});

describe('docker functions', () => {
  it.each([
    ['{{upper .}}', 'Hello', 'HELLO'],
    ['{{lower .}}', 'HeLLo', 'hello'],
    ['{{title .}}', 'hello wide-world_x', 'Hello Wide-World_x'],
    ['{{. | upper}}', 'abc', 'ABC'],
    ['{{join . ", "}}', ['a', 'b', 'c'], 'a, b, c'],
    ['{{split . ","}}', 'a,b', '[a b]'],
    ['{{json .}}', ['a', 1, true, null], '["a",1,true,null]'],
    ['{{json .}}', '<&>', '"<&>"'],
    ['{{json .}}', 'a\u2028b', '"a\\u2028b"'],
    ['{{json .}}', { b: 1, a: { c: [] } }, '{"b":1,"a":{"c":[]}}'],
    ['{{pad . 1 2}}', 'x', ' x  '],
    ['{{truncate . 3}}', 'héllo', 'hé'],
    ['{{truncate . 3}}', '你好世界', '你'],
    ['{{println}}', {}, '\n'],
    ['{{println "a" 1}}', {}, 'a 1\n'],
    ['{{print "a" 1 2 "b"}}', {}, 'a1 2b'],
    ['{{printf "%s-%d-%5.2f|%-4s|%q" "x" 42 3.14159 "ab" "q"}}', {}, 'x-42- 3.14|ab  |"q"'],
    ['{{len .}}', 'héllo', '6'],
    ['{{len .}}', [1, 2, 3], '3'],
    ['{{index . 1}}', ['a', 'b'], 'b'],
    ['{{index . "k"}}', { k: 'v' }, 'v'],
    ['{{index . "missing"}}', { k: 'v' }, ''],
    ['{{index .L "x"}}', { L: null }, ''],
    ['{{eq . "a"}}', 'a', 'true'],
    ['{{eq . "b" "c" "a"}}', 'a', 'true'],
    ['{{ne . 1}}', 2, 'true'],
    ['{{lt 1 2}} {{le 2 2}} {{gt 1 2}} {{ge "b" "a"}}', {}, 'true true false true'],
    ['{{and 1 0 2}} {{or 0 "" "x"}} {{not 0}}', {}, '0 x true'],
    ['{{and .A .B.C}}', { A: 0 }, '0'],
  ] as const)('%s on %j → %j', (template, data, expected) => {
    expect(run(template, data)).toBe(expected);
  });

  it('rejects wrong argument counts and types the way Go does', () => {
    expectTemplateError(
      () => run('{{upper}}', 'x'),
      'template parsing error: template: :1:2: executing "" at <upper>: wrong number of args for upper: want 1 got 0',
    );
    expectTemplateError(
      () => run('{{join . ","}}', 'notalist'),
      'template parsing error: template: :1:7: executing "" at <.>: wrong type for value; expected []string; got string',
    );
    expectTemplateError(
      () => run('{{nil}}', {}),
      'template parsing error: template: :1:2: executing "" at <nil>: nil is not a command',
    );
  });
});

describe('control structures', () => {
  it('range over lists, maps, with index variables, else, break and continue', () => {
    expect(run('{{range .}}[{{.}}]{{end}}', ['a', 'b'])).toBe('[a][b]');
    expect(run('{{range $i, $v := .}}{{$i}}={{$v}} {{end}}', ['a', 'b'])).toBe('0=a 1=b ');
    expect(run('{{range $k, $v := .}}{{$k}}:{{$v}};{{end}}', { b: 2, a: 1 })).toBe('a:1;b:2;');
    expect(run('{{range .}}x{{else}}empty{{end}}', [])).toBe('empty');
    expect(run('{{range .}}{{if eq . 3}}{{break}}{{end}}{{.}}{{end}}', [1, 2, 3, 4])).toBe('12');
    expect(run('{{range .}}{{if eq . 2}}{{continue}}{{end}}{{.}}{{end}}', [1, 2, 3])).toBe('13');
    expect(run('{{range .Env}}{{println .}}{{end}}', { Env: ['A=1', 'B=2'] })).toBe('A=1\nB=2\n');
  });

  it('if / else if / else, with, and Go truthiness', () => {
    const t = '{{if .A}}a{{else if .B}}b{{else}}c{{end}}';
    expect(run(t, { A: 1, B: 1 })).toBe('a');
    expect(run(t, { A: 0, B: 'x' })).toBe('b');
    expect(run(t, { A: '', B: [] })).toBe('c');
    expect(run('{{if .}}y{{else}}n{{end}}', {})).toBe('n');
    expect(run('{{with .C}}{{.D}}{{else}}none{{end}}', { C: { D: 'deep' } })).toBe('deep');
    expect(run('{{with .C}}{{.D}}{{else}}none{{end}}', { C: null })).toBe('none');
  });

  it('variables: declare, assign, scope ends at {{end}}', () => {
    expect(run('{{$x := .A}}{{$x}}', { A: 'v' })).toBe('v');
    expect(run('{{$n := 0}}{{range .}}{{$n = .}}{{end}}{{$n}}', [1, 2, 3])).toBe('3');
    expect(run('{{range .List}}{{$.Name}}{{.}}{{end}}', { Name: 'r', List: [1, 2] })).toBe('r1r2');
    expectTemplateError(
      () => run('{{if 1}}{{$y := 1}}{{end}}{{$y}}', {}),
      'template parsing error: template: :1: undefined variable "$y"',
    );
  });

  it('trims whitespace around {{- and -}} and ignores comments', () => {
    expect(run('a  {{- .}} \n {{- /* note */ -}}  b', 'X')).toBe('aXb');
    expect(run('{{/* a comment */}}x', {})).toBe('x');
    expect(run('{{-3}}', {})).toBe('-3');
  });

  it('keeps "}}" inside a quoted string', () => {
    expect(run('{{"}}"}}', {})).toBe('}}');
    expect(run('{{`raw\\n`}}', {})).toBe('raw\\n');
    expect(run('{{"a\\tb"}}', {})).toBe('a\tb');
  });
});

describe('define, template, block; Go builtins docker allows', () => {
  it('defines and calls named templates', () => {
    expect(run('{{define "x"}}[{{.}}]{{end}}{{template "x" .A}}{{template "x" .B}}', { A: 1, B: 2 })).toBe('[1][2]');
    expect(run('{{block "b" .A}}<{{.}}>{{end}}', { A: 'a' })).toBe('<a>');
    expectTemplateError(
      () => run('{{template "nope"}}', {}),
      'template parsing error: template: :1:11: executing "" at <{{template "nope"}}>: template "nope" not defined',
    );
  });

  it('allows a trailing pipe, as Go does', () => {
    expect(run('{{.A | }}', { A: 'x' })).toBe('x');
  });

  it.each([
    ['{{html .}}', `<a href='x'>&"`, '&lt;a href=&#39;x&#39;&gt;&amp;&#34;'],
    ['{{js .}}', `it's <b> = "q"`, `it\\'s \\u003Cb\\u003E \\u003D \\"q\\"`],
    ['{{urlquery .}}', 'a b&c=d/é', 'a+b%26c%3Dd%2F%C3%A9'],
    ['{{slice . 1 3}}', 'default', 'ef'],
    ['{{slice . 2}}', [1, 2, 3], '[3]'],
    ['{{printf "%q|%c" 10 65}}', {}, "'\\n'|A"],
    ['{{1e3}} {{1.0}} {{1234567.0}} {{0.0001}}', {}, '1000 1 1.234567e+06 0.0001'],
  ] as const)('%s on %j → %s', (template, data, expected) => {
    expect(run(template, data)).toBe(expected);
  });

  it('compares ints and floats as Go does', () => {
    expectTemplateError(
      () => run('{{eq 1 1.0}}', {}),
      'template parsing error: template: :1:2: executing "" at <eq 1 1.0>: error calling eq: incompatible types for comparison',
    );
    expect(run('{{lt 1.5 2.5}}', {})).toBe('true');
  });

  it('never lets a function crash escape as anything but a TemplateError', () => {
    expectTemplateError(
      () => run('{{pad . -1 0}}', 'x'),
      'template parsing error: template: :1:2: executing "" at <pad . -1 0>: error calling pad: strings: negative Repeat count',
    );
  });
});

describe('template parsing errors', () => {
  it.each([
    ['{{InvalidFunction}}', 'template parsing error: template: :1: function "InvalidFunction" not defined'],
    ['{{.Foo', 'template parsing error: template: :1: unclosed action'],
    ['{{if .A}}x', 'template parsing error: template: :1: unexpected EOF'],
    ['x{{end}}', 'template parsing error: template: :1: unexpected {{end}}'],
    ['{{else}}', 'template parsing error: template: :1: unexpected {{else}}'],
    ['{{}}', 'template parsing error: template: :1: missing value for command'],
    ['{{if}}{{end}}', 'template parsing error: template: :1: missing value for if'],
    ['{{"abc}}', 'template parsing error: template: :1: unterminated quoted string'],
    ['{{.A !}}', 'template parsing error: template: :1: unexpected "!" in operand'],
    ['{{.A}', "template parsing error: template: :1: bad character U+007D '}'"],
    ['{{| .A}}', 'template parsing error: template: :1: unexpected "|" in command'],
    ['{{→}}', "template parsing error: template: :1: unrecognized character in action: U+2192 '→'"],
    ['\n\n{{$nope}}', 'template parsing error: template: :3: undefined variable "$nope"'],
    ['{{define "x"}}a{{else}}b{{end}}', 'template parsing error: template: :1: unexpected {{else}} in define clause'],
    ['{{break}}', 'template parsing error: template: :1: {{break}} outside {{range}}'],
    ['{{(upper .}}', 'template parsing error: template: :1: unclosed left paren'],
  ])('%j', (template, message) => {
    expectTemplateError(() => compileTemplate(template), message);
  });
});

describe('value printing and sprintf', () => {
  it('prints like Go %v', () => {
    expect(printValue(undefined)).toBe('<no value>');
    expect(printValue(null)).toBe('<nil>');
    expect(printValue(1.5)).toBe('1.5');
    expect(printValue(1e21)).toBe('1e+21');
    expect(printValue(0.00001)).toBe('1e-05');
    expect(printValue([1, [2, 'x'], null])).toBe('[1 [2 x] <nil>]');
    expect(printValue({ z: 1, a: 'b' })).toBe('map[a:b z:1]');
    expect(printValue(true)).toBe('true');
  });

  it('formats with Go verbs', () => {
    expect(sprintf('%05d|%x|%X|%t|%v|%%|%s', [42, 255, 'hi', true, [1], 'end'])).toBe('00042|ff|6869|true|[1]|%|end');
    expect(sprintf('%s %s', ['only'])).toBe('only %!s(MISSING)');
    expect(sprintf('%.3e', [12345.678])).toBe('1.235e+04');
  });

  it('encodes JSON like docker (no HTML escaping, Map and Set supported)', () => {
    expect(toGoJson(new Map([['a', new Set([1])]]))).toBe('{"a":[1]}');
    expect(toGoJson(undefined)).toBe('null');
  });
});
