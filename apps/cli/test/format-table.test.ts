import { describe, expect, it } from 'vitest';
import {
  alignColumns,
  displayWidth,
  headerFromField,
  isJsonFormat,
  isTableFormat,
  preFormat,
  renderFormat,
  TemplateError,
} from '../src/format/index.js';

// docker/cli formatter/image.go: its header map and default table formats.
const imageHeaders = {
  ID: 'IMAGE ID',
  Repository: 'REPOSITORY',
  Tag: 'TAG',
  Digest: 'DIGEST',
  CreatedSince: 'CREATED',
  CreatedAt: 'CREATED AT',
  Size: 'SIZE',
  Containers: 'CONTAINERS',
};
const defaultImageTable =
  'table {{.Repository}}\\t{{.Tag}}\\t{{.ID}}\\t{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\\t{{.Size}}';
const defaultImageTableWithDigest =
  'table {{.Repository}}\\t{{.Tag}}\\t{{.Digest}}\\t{{.ID}}\\t{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\\t{{.Size}}';
const DIGEST = 'sha256:cbbf2f9a99b47fc460d422812b6a5adff7dfee951d8fa2e4a98caa0382cfbdbf';

// The three images of docker/cli image_test.go TestImageContextWrite, as the CLI would pass them.
const images = [
  { Repository: 'image', Tag: 'tag1', Digest: DIGEST, ID: 'imageID1', CreatedSince: '24 hours ago', Size: '0B' },
  { Repository: 'image', Tag: 'tag2', Digest: '<none>', ID: 'imageID2', CreatedSince: '', Size: '0B' },
  { Repository: '<none>', Tag: '<none>', Digest: '<none>', ID: 'imageID3', CreatedSince: '24 hours ago', Size: '0B' },
];

describe('docker/cli image_test.go vectors', () => {
  it('default table', () => {
    expect(renderFormat('table', images, { headers: imageHeaders, defaultFormat: defaultImageTable })).toBe(
      'REPOSITORY   TAG       IMAGE ID   CREATED        SIZE\n' +
        'image        tag1      imageID1   24 hours ago   0B\n' +
        'image        tag2      imageID2   N/A            0B\n' +
        '<none>       <none>    imageID3   24 hours ago   0B\n',
    );
  });

  it('default table with digests', () => {
    expect(renderFormat(defaultImageTableWithDigest, images, { headers: imageHeaders })).toBe(
      'REPOSITORY   TAG       DIGEST                                                                    IMAGE ID   CREATED        SIZE\n' +
        `image        tag1      ${DIGEST}   imageID1   24 hours ago   0B\n` +
        'image        tag2      <none>                                                                    imageID2   N/A            0B\n' +
        '<none>       <none>    <none>                                                                    imageID3   24 hours ago   0B\n',
    );
  });

  it('table of one column', () => {
    expect(renderFormat('table {{.Repository}}', images, { headers: imageHeaders })).toBe(
      'REPOSITORY\nimage\nimage\n<none>\n',
    );
    expect(renderFormat('table {{.Digest}}', images, { headers: imageHeaders })).toBe(
      `DIGEST\n${DIGEST}\n<none>\n<none>\n`,
    );
    expect(renderFormat('table {{.Repository}}\t{{.Digest}}', images, { headers: imageHeaders })).toBe(
      `REPOSITORY   DIGEST\nimage        ${DIGEST}\nimage        <none>\n<none>       <none>\n`,
    );
  });

  it('quiet and custom formats print one line per row, no header', () => {
    expect(renderFormat('{{.ID}}', images)).toBe('imageID1\nimageID2\nimageID3\n');
    expect(renderFormat('{{.Repository}}', images)).toBe('image\nimage\n<none>\n');
  });

  it('the raw format (multi-line rows)', () => {
    const raw = 'repository: {{ .Repository }}\ntag: {{.Tag}}\nimage_id: {{.ID}}\n';
    expect(renderFormat(raw, images.slice(0, 1))).toBe('repository: image\ntag: tag1\nimage_id: imageID1\n\n');
  });

  it('no rows: a table still prints its header, other formats print nothing', () => {
    expect(renderFormat('{{.Repository}}', [], { headers: imageHeaders })).toBe('');
    expect(renderFormat('table {{.Repository}}', [], { headers: imageHeaders })).toBe('REPOSITORY\n');
    expect(renderFormat('table {{.Repository}}\t{{.Digest}}', [], { headers: imageHeaders })).toBe(
      'REPOSITORY   DIGEST\n',
    );
  });

  it("reports an unknown function and a nil command with docker's messages", () => {
    expect(() => renderFormat('{{InvalidFunction}}', images)).toThrow(
      new TemplateError('template parsing error: template: :1: function "InvalidFunction" not defined'),
    );
    expect(() => renderFormat('{{nil}}', images)).toThrow(
      new TemplateError('template parsing error: template: :1:2: executing "" at <nil>: nil is not a command'),
    );
  });
});

describe('docker/cli formatter_test.go vectors', () => {
  it('json and table format keys', () => {
    expect(isJsonFormat('json')).toBe(true);
    expect(isTableFormat('json')).toBe(false);
    expect(isTableFormat('table')).toBe(true);
    expect(isJsonFormat('table')).toBe(false);
    expect(isJsonFormat('other') || isTableFormat('other')).toBe(false);
    expect(renderFormat('json', [{ Name: 'test' }])).toBe('{"Name":"test"}\n');
    expect(renderFormat('table {{.Name}}', [{ Name: 'test' }], { headers: { Name: 'NAME' } })).toBe('NAME\ntest\n');
  });
});

describe('json output of rows', () => {
  it('marshals docker formatter contexts like docker: sorted keys, HTML characters escaped', () => {
    expect(renderFormat('json', images.slice(1, 2), { contextRows: true })).toBe(
      '{"CreatedSince":"","Digest":"\\u003cnone\\u003e","ID":"imageID2","Repository":"image","Size":"0B","Tag":"tag2"}\n',
    );
    expect(renderFormat('{{json .}}', [{ B: 'a&b', A: 1 }], { contextRows: true })).toBe('{"A":1,"B":"a\\u0026b"}\n');
  });

  it("keeps field order and does not escape HTML for other values, as docker's json function", () => {
    expect(renderFormat('json', [{ B: '<x>', A: 1 }])).toBe('{"B":"<x>","A":1}\n');
    expect(renderFormat('{{json .Digest}}', images.slice(1, 2), { contextRows: true })).toBe('"<none>"\n');
  });
});

describe('headers', () => {
  it('derives a header for fields the map does not name', () => {
    expect(headerFromField('CreatedSince')).toBe('CREATED SINCE');
    expect(headerFromField('ID')).toBe('ID');
    expect(headerFromField('RepoTags')).toBe('REPO TAGS');
    expect(headerFromField('HTTPProxy')).toBe('HTTP PROXY');
    expect(renderFormat('table {{.Foo}}\t{{.BarBaz}}', [{ Foo: 'x', BarBaz: 'y' }])).toBe(
      'FOO       BAR BAZ\nx         y\n',
    );
  });

  it("passes text functions through in the header but keeps pad, like docker's HeaderFunctions", () => {
    const rows = [{ Name: 'abc', Tags: ['a', 'b'] }];
    expect(
      renderFormat('table {{upper .Name}}\t{{join .Tags ","}}', rows, { headers: { Name: 'NAME', Tags: 'TAGS' } }),
    ).toBe('NAME      TAGS\nABC       a,b\n');
    expect(renderFormat('table {{pad .Name 1 1}}|', rows, { headers: { Name: 'NAME' } })).toBe(' NAME |\n abc |\n');
    expect(renderFormat('table {{truncate .Name 1}}', rows, { headers: { Name: 'NAME' } })).toBe('NAME\na\n');
  });

  it('treats an unnamed field as false in a header condition (docker context ls "Current")', () => {
    const format = 'table {{.Name}}{{if .Current}} *{{end}}\t{{.Description}}';
    const rows = [
      { Name: 'default', Current: true, Description: 'Current DOCKER_HOST' },
      { Name: 'remote', Current: false, Description: '' },
    ];
    expect(renderFormat(format, rows, { headers: { Name: 'NAME', Description: 'DESCRIPTION' } })).toBe(
      'NAME        DESCRIPTION\ndefault *   Current DOCKER_HOST\nremote      \n',
    );
  });

  it('renders nothing for a range in the header and the rows for each row', () => {
    expect(
      renderFormat('table {{.Name}}\t{{range .Tags}}{{.}} {{end}}', [{ Name: 'n', Tags: ['x', 'y'] }], {
        headers: { Name: 'NAME' },
      }),
    ).toBe('NAME      \nn         x y \n');
  });
});

describe('preFormat', () => {
  it('strips the table key, trims spaces, turns typed \\t and \\n into real ones', () => {
    expect(preFormat('table {{.A}}\\t{{.B}}')).toBe('{{.A}}\t{{.B}}');
    expect(preFormat('  {{.A}}\\n  ')).toBe('{{.A}}\n');
    expect(preFormat('json')).toBe('{{json .}}');
    expect(preFormat('table')).toBe('');
  });

  it('uses the default format for an empty format or a bare table key', () => {
    expect(renderFormat('', [{ A: 1 }], { defaultFormat: '{{.A}}' })).toBe('1\n');
    expect(renderFormat('table', [{ A: 1 }], { defaultFormat: 'table {{.A}}' })).toBe('A\n1\n');
  });

  it('fails on a row with a missing field, naming it', () => {
    expect(() => renderFormat('table {{.Nope}}', [{ A: 1 }])).toThrow(/can't evaluate field Nope/);
  });
});

describe('alignColumns (Go tabwriter, docker settings)', () => {
  it('pads each column to its widest cell plus 3, at least 10', () => {
    expect(alignColumns('a\tb\tc\nlonger-cell-x\tbb\tc\n')).toBe(
      `a${' '.repeat(15)}b${' '.repeat(9)}c\nlonger-cell-x${' '.repeat(3)}bb${' '.repeat(8)}c\n`,
    );
  });

  it('does not pad the last cell of a line, and a line without tabs ends the column block', () => {
    expect(alignColumns('aaaa\tb\nx\naa\tcccccccccccccc\td\n')).toBe('aaaa      b\nx\naa        cccccccccccccc   d\n');
  });

  it('keeps columns of distinct blocks apart (elastic tabstops)', () => {
    // Go doc example: b and c are in distinct columns; d and e are in none.
    expect(alignColumns('aaaa\tbbb\td\naa\tb\tdd\na\t\naa\tcccc\teee', { minWidth: 0, padding: 1 })).toBe(
      'aaaa bbb d\naa   b   dd\na    \naa   cccc eee',
    );
  });

  it("counts wide characters as two cells, like docker's runewidth tabwriter", () => {
    expect(displayWidth('你好')).toBe(4);
    expect(displayWidth('e\u0301')).toBe(1);
    expect(alignColumns('你好\tx\nab\ty', { minWidth: 0, padding: 1 })).toBe('你好 x\nab   y');
  });
});
