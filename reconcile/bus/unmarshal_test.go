package bus

import (
	"reflect"
	"testing"

	"gopkg.in/yaml.v3"
)

// Bodies that open like JSON but are not one JSON value are read by the
// YAML decoder, exactly as if the JSON decoder had never seen them; JSON
// type errors stay errors.
func TestUnmarshalJSONLookalikes(t *testing.T) {
	for _, body := range []string{
		"{\"a\": 1}\n...\n",    // a YAML document end marker
		`{a: yes, "b": 2}`,     // flow YAML, not JSON
		"{\"a\": 1}\n# note\n", // a YAML comment after the value
		`{"a": 1} {"b": 2}`,    // two values
		`["x", 1, 2.5] # list`, // a sequence with a comment
		`{"a": [1, 2}`,         // broken either way
		`{"a": 1} # }`,         // a comment that ends like JSON
		`[1, "x"] # ]`,         // the same for a sequence
		`{"a": "x"} # }`,       // and with a string
	} {
		var got, want any
		gotErr := Unmarshal([]byte(body), &got)
		wantErr := yaml.Unmarshal([]byte(body), &want)
		if (gotErr == nil) != (wantErr == nil) {
			t.Errorf("%q: error %v, YAML says %v", body, gotErr, wantErr)
			continue
		}
		if gotErr == nil && !reflect.DeepEqual(got, want) {
			t.Errorf("%q: got %#v, YAML reads %#v", body, got, want)
		}
	}
	var got map[string]any
	if err := Unmarshal([]byte(`{"a": 1, "b": [1.5, "x", 7]}`), &got); err != nil {
		t.Fatal(err)
	}
	if want := map[string]any{"a": 1, "b": []any{1.5, "x", 7}}; !reflect.DeepEqual(got, want) {
		t.Errorf("JSON body: got %#v, want %#v", got, want)
	}
	// A body that is not one JSON value reaches the YAML decoder with the
	// target as the caller left it.
	kept := map[string]any{"keep": 1}
	if err := Unmarshal([]byte("{\"a\": 2}\n# note\n"), &kept); err != nil {
		t.Fatal(err)
	}
	if want := map[string]any{"keep": 1, "a": 2}; !reflect.DeepEqual(kept, want) {
		t.Errorf("YAML body into a filled map: got %#v, want %#v", kept, want)
	}
	var typed struct {
		N int `json:"n"`
	}
	if err := Unmarshal([]byte(`{"n": "not a number"}`), &typed); err == nil {
		t.Error("a JSON type error was not reported")
	}
}
