package descriptor

import "fmt"

// memoryFactorsMB converts son-schema memory units to MB: decimal factors
// for kB/MB/GB/TB (and the schema's PT), binary ones for KiB/MiB/GiB/TiB
// (and PiT), wire-protocol §14.5 L1. PB and PiB are the IA model's spelling.
var memoryFactorsMB = map[string]float64{
	"B":   1e-6,
	"kB":  1e-3,
	"KiB": 1024.0 / 1e6,
	"MB":  1,
	"MiB": 1048576.0 / 1e6,
	"GB":  1e3,
	"GiB": 1073741824.0 / 1e6,
	"TB":  1e6,
	"TiB": 1099511627776.0 / 1e6,
	"PT":  1e9,
	"PB":  1e9,
	"PiT": 1125899906842624.0 / 1e6,
	"PiB": 1125899906842624.0 / 1e6,
}

// ToMB converts size in unit to MB; an empty unit is the schema default MB.
func ToMB(size float64, unit string) (float64, error) {
	if unit == "" {
		unit = "MB"
	}
	f, ok := memoryFactorsMB[unit]
	if !ok {
		return 0, fmt.Errorf("unknown memory unit %q", unit)
	}
	return size * f, nil
}

// MemoryUnits lists the units ToMB accepts.
func MemoryUnits() []string {
	return []string{"B", "kB", "KiB", "MB", "MiB", "GB", "GiB", "TB", "TiB", "PT", "PiT", "PB", "PiB"}
}
