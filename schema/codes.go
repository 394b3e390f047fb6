package schema

// Stable diagnostic codes of the loader and of the package checks. Codes
// that son-validate had keep its evt_* ids (spec/descriptors.md §9);
// manoctl's own codes are dotted, "<area>.<problem>", and never change
// meaning once released. The syntax codes (schema.*) are in package
// syntax.
const (
	// CodeUnreadable: the path does not exist or cannot be read (I/O
	// error, permission). The only loader finding that makes manoctl
	// validate exit 1 rather than 3: the input was not judged at all.
	CodeUnreadable = "load.unreadable"
	// CodeInvalidDescriptor: broken YAML or JSON, or an empty file
	// (son-validate's evt_invalid_descriptor).
	CodeInvalidDescriptor = "evt_invalid_descriptor"
	// CodeBinary: the file is not text (NUL bytes or invalid UTF-8).
	CodeBinary = "load.binary"
	// CodeTooLarge: the file, or a .son member, exceeds the size limit.
	CodeTooLarge = "load.too_large"
	// CodeAliasLimit: YAML aliases expand to more nodes than the limit
	// (a "billion laughs" document).
	CodeAliasLimit = "load.alias_limit"
	// CodeKindUnknown: the content is not recognisably a SONATA
	// descriptor or record. An error for files named on the command line
	// and stdin, info for files found while walking a directory.
	CodeKindUnknown = "load.kind_unknown"
	// CodeTNG: a 5GTANGO descriptor (descriptor_schema, no
	// descriptor_version): one finding instead of dozens of schema
	// errors (spec/descriptors.md §8).
	CodeTNG = "load.tng_descriptor"
	// CodeDuplicateKey (warning): a mapping repeats a key. PyYAML keeps
	// the last value silently; so does manoctl, but says so.
	CodeDuplicateKey = "load.duplicate_key"

	// Package level (spec/descriptors.md §9.3).

	// CodePackageFormat: a .son file that is not a readable zip.
	CodePackageFormat = "evt_package_format_invalid"
	// CodePackageStruct: META-INF/MANIFEST.MF missing, META-INF holding
	// more than that, an empty service_descriptors/ or
	// function_descriptors/ directory.
	CodePackageStruct = "evt_package_struct_invalid"
	// CodePackageUnsafePath: a zip member whose name is absolute or
	// climbs out of the package (zip slip). The package is not read.
	CodePackageUnsafePath = "package.unsafe_path"
	// CodePackageLimits: too many members, or members that inflate past
	// the per-member or total limit (zip bomb). The package is not read.
	CodePackageLimits = "package.limits"
	// CodePDInvalidReference: a package_content descriptor, or the
	// entry_service_template, is not in the package.
	CodePDInvalidReference = "evt_pd_itg_invalid_reference"
	// CodePDInvalidMD5 (warning): a member's MD5 differs from
	// package_content[].md5.
	CodePDInvalidMD5 = "evt_pd_itg_invalid_md5"
	// CodePDMissingEntryService: the PD has no entry_service_template.
	CodePDMissingEntryService = "evt_pd_itg_missing_entry_service"
)

// IsReadFailure reports whether d says an input could not be read at all
// (as opposed to read and found invalid).
func IsReadFailure(d Diagnostic) bool { return d.Code == CodeUnreadable }
