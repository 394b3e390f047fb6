package report

import (
	"strings"

	"github.com/manoctl/manoctl/schema"
	"github.com/manoctl/manoctl/schema/syntax"
	"github.com/manoctl/manoctl/schema/validate"
)

// descriptions are the one-line rule texts of the codes the loader, the
// package checks and the syntax level emit. Integrity and topology codes
// come from package check; unknown codes describe themselves.
var descriptions = map[string]string{
	schema.CodeUnreadable:            "Input could not be read",
	schema.CodeInvalidDescriptor:     "Invalid descriptor: broken YAML or JSON, or an empty file",
	schema.CodeBinary:                "Binary file where a descriptor was expected",
	schema.CodeTooLarge:              "File or package member over the size limit",
	schema.CodeAliasLimit:            "YAML aliases expand past the limit",
	schema.CodeKindUnknown:           "Not a SONATA descriptor or record",
	schema.CodeTNG:                   "5GTANGO descriptor, not son-schema v3.0",
	schema.CodeDuplicateKey:          "Repeated mapping key",
	schema.CodePackageFormat:         "Package is not a readable zip",
	schema.CodePackageStruct:         "Package structure is invalid",
	schema.CodePackageUnsafePath:     "Package entry escapes the package (zip slip)",
	schema.CodePackageLimits:         "Package exceeds the entry or size limits (zip bomb)",
	schema.CodePDInvalidReference:    "Package descriptor references a file that is not packaged",
	schema.CodePDInvalidMD5:          "Packaged file does not match its MD5",
	schema.CodePDMissingEntryService: "Package descriptor has no entry_service_template",
	validate.CodeInternal:            "Internal error in manoctl",
	syntax.ClassType:                 "Value has the wrong type",
	syntax.ClassRequired:             "Required key is missing",
	syntax.ClassAdditional:           "Key is not allowed here",
	syntax.ClassEnum:                 "Value is not one of the allowed values",
	syntax.ClassPattern:              "String does not match the schema's pattern",
	syntax.ClassRange:                "Number is out of range",
	syntax.ClassMinItems:             "List has too few items",
	syntax.ClassUniqueItems:          "List items are not unique",
	syntax.ClassOneOf:                "Value matches more than one of the alternatives",
}

// Describe returns the rule text for code.
func Describe(code string) string {
	switch {
	case strings.HasPrefix(code, syntax.CorrectedCodePrefix):
		if d, ok := descriptions[strings.TrimPrefix(code, syntax.CorrectedCodePrefix)]; ok {
			return d + " (manoctl's corrected son-schema v3.0 rule)"
		}
	case strings.HasPrefix(code, syntax.CodePrefix):
		if d, ok := descriptions[strings.TrimPrefix(code, syntax.CodePrefix)]; ok {
			return d + " (son-schema v3.0)"
		}
	}
	if d, ok := descriptions[code]; ok {
		return d
	}
	return code
}
