package main

import (
	"context"
	"strings"
	"testing"

	"github.com/manoctl/manoctl/cmd/manoctl/internal/iostreams"
	"github.com/manoctl/manoctl/schema"
	"github.com/manoctl/manoctl/schema/syntax"
)

// TestValidateFlags: the argv table; runF captures the parsed options.
func TestValidateFlags(t *testing.T) {
	tests := []struct {
		args    string
		want    validateOptions
		wantErr string
	}{
		{args: "x.yml", want: validateOptions{paths: []string{"x.yml"}, level: schema.LevelTopology, output: "text", engine: syntax.EngineFast}},
		{args: "--level syntax --kind VNFD -o json --strict --strict-records --engine cue a b",
			want: validateOptions{paths: []string{"a", "b"}, level: schema.LevelSyntax, kind: schema.KindVNFD, output: "json", strict: true, strictRecords: true, engine: syntax.EngineCUE}},
		{args: "--level integrity -o sarif -", want: validateOptions{paths: []string{"-"}, level: schema.LevelIntegrity, output: "sarif", engine: syntax.EngineFast}},
		{args: "", wantErr: "needs at least one PATH"},
		{args: "--level deep x", wantErr: `unknown level "deep"`},
		{args: "--kind tosca x", wantErr: `unknown kind "tosca"`},
		{args: "-o yaml x", wantErr: `unknown format "yaml"`},
		{args: "--engine jit x", wantErr: `unknown engine "jit"`},
	}
	for _, tc := range tests {
		t.Run(tc.args, func(t *testing.T) {
			ios, _, _, _ := iostreams.Test()
			var got *validateOptions
			cmd := newCmdValidate(&factory{io: ios}, func(_ context.Context, o *validateOptions) error {
				got = o
				return nil
			})
			cmd.SetArgs(strings.Fields(tc.args))
			cmd.SetOut(ios.Out)
			cmd.SetErr(ios.ErrOut)
			cmd.SilenceErrors, cmd.SilenceUsage = true, true
			err := cmd.Execute()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				if exitCodeOf(err) != exitUsage {
					t.Errorf("exit code %d, want %d", exitCodeOf(err), exitUsage)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got.io = nil
			if strings.Join(got.paths, ",") != strings.Join(tc.want.paths, ",") || got.level != tc.want.level || got.kind != tc.want.kind ||
				got.output != tc.want.output || got.strict != tc.want.strict || got.strictRecords != tc.want.strictRecords || got.engine != tc.want.engine {
				t.Errorf("options %+v, want %+v", *got, tc.want)
			}
		})
	}
}

// TestRunValidateExitCodes calls run directly with test streams.
func TestRunValidateExitCodes(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name  string
		args  []string
		stdin string
		code  int
		out   string
		err   string
	}{
		{"valid stdin", []string{"validate", "--level", "syntax", "-"}, "descriptor_version: '1.0'\nvendor: v\nname: n\nversion: '1'\n", exitOK, "", "1 file, 0 errors, 0 warnings"},
		{"invalid stdin", []string{"validate", "--level", "syntax", "-"}, "descriptor_version: '1.0'\nvendor: V\nname: n\nversion: '1'\n", exitInvalid, "-:2:9: error schema.pattern", "1 file, 1 error"},
		{"unreadable", []string{"validate", dir + "/nope.yml"}, "", exitError, "load.unreadable", "could not be read"},
		{"usage", []string{"validate"}, "", exitUsage, "", "Run 'manoctl validate --help' for usage."},
		{"schema show", []string{"schema", "show", "vnfd"}, "", exitOK, "#VNFD: {", ""},
		{"schema show unknown", []string{"schema", "show", "tosca"}, "", exitUsage, "", `unknown kind "tosca"`},
		{"schema without subcommand", []string{"schema"}, "", exitUsage, "", "needs a subcommand"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ios, in, out, errOut := iostreams.Test()
			in.WriteString(tc.stdin)
			code := run(context.Background(), tc.args, ios)
			if code != tc.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, out, errOut)
			}
			if !strings.Contains(out.String(), tc.out) {
				t.Errorf("stdout %q, want %q", out, tc.out)
			}
			if !strings.Contains(errOut.String(), tc.err) {
				t.Errorf("stderr %q, want %q", errOut, tc.err)
			}
		})
	}
}
