package toolbox

import (
	"slices"
	"testing"
)

func TestGetopt(t *testing.T) {
	long := map[string]byte{"lines": 'n', "verbose": 'v'}
	for _, tc := range []struct {
		name     string
		args     []string
		set      string
		vals     map[byte][]string
		operands []string
		bad      bool
	}{
		{"plain", []string{"-v", "a"}, "v", nil, []string{"a"}, false},
		{"cluster", []string{"-vq", "a"}, "qv", nil, []string{"a"}, false},
		{"attached value", []string{"-n5"}, "n", map[byte][]string{'n': {"5"}}, nil, false},
		{"next value", []string{"-n", "5", "f"}, "n", map[byte][]string{'n': {"5"}}, []string{"f"}, false},
		{"cluster then value", []string{"-vn5"}, "nv", map[byte][]string{'n': {"5"}}, nil, false},
		{"repeated", []string{"-n", "1", "-n2"}, "n", map[byte][]string{'n': {"1", "2"}}, nil, false},
		{"permuted", []string{"a", "-v", "b"}, "v", nil, []string{"a", "b"}, false},
		{"double dash", []string{"-v", "--", "-q"}, "v", nil, []string{"-q"}, false},
		{"lone dash", []string{"-"}, "", nil, []string{"-"}, false},
		{"value that looks like an option", []string{"-n", "-q"}, "n", map[byte][]string{'n': {"-q"}}, nil, false},
		{"long", []string{"--verbose", "--lines=3", "--lines", "4"}, "nv", map[byte][]string{'n': {"3", "4"}}, nil, false},
		{"unknown", []string{"-x"}, "", nil, nil, true},
		{"unknown long", []string{"--nope"}, "", nil, nil, true},
		{"missing value", []string{"-n"}, "", nil, nil, true},
		{"long with unwanted value", []string{"--verbose=1"}, "", nil, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, operands, err := getopt(tc.args, "vqn:", long)
			if (err != nil) != tc.bad {
				t.Fatalf("getopt(%q): error %v, want error %v", tc.args, err, tc.bad)
			}
			if tc.bad {
				return
			}
			var set []byte
			for l := range o.set {
				set = append(set, l)
			}
			slices.Sort(set)
			if string(set) != tc.set || !slices.Equal(operands, tc.operands) {
				t.Errorf("getopt(%q) = set %q, operands %q; want %q, %q", tc.args, set, operands, tc.set, tc.operands)
			}
			for l, want := range tc.vals {
				if !slices.Equal(o.vals[l], want) {
					t.Errorf("values of -%c = %q, want %q", l, o.vals[l], want)
				}
			}
		})
	}
}
