package tui

import "github.com/charmbracelet/lipgloss"

// styles are the UI's colours. Everything that matters is also visible
// without colour (the cursor has a ">" gutter, stale plugins say "stale"),
// so NO_COLOR and ASCII terminals lose nothing.
type styles struct {
	header   lipgloss.Style
	title    lipgloss.Style
	colHead  lipgloss.Style
	selected lipgloss.Style
	bad      lipgloss.Style
	good     lipgloss.Style
	busy     lipgloss.Style
	faint    lipgloss.Style
	status   lipgloss.Style
	errText  lipgloss.Style
	keys     lipgloss.Style
	prompt   lipgloss.Style
	barFull  lipgloss.Style
	barHigh  lipgloss.Style
}

func defaultStyles() styles {
	return styles{
		header:   lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("15")).Background(lipgloss.Color("24")),
		title:    lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("14")),
		colHead:  lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("11")),
		selected: lipgloss.NewStyle().Reverse(true),
		bad:      lipgloss.NewStyle().Foreground(lipgloss.Color("9")),
		good:     lipgloss.NewStyle().Foreground(lipgloss.Color("10")),
		busy:     lipgloss.NewStyle().Foreground(lipgloss.Color("12")),
		faint:    lipgloss.NewStyle().Faint(true),
		status:   lipgloss.NewStyle().Foreground(lipgloss.Color("7")),
		errText:  lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("9")),
		keys:     lipgloss.NewStyle().Foreground(lipgloss.Color("8")),
		prompt:   lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("14")),
		barFull:  lipgloss.NewStyle().Foreground(lipgloss.Color("10")),
		barHigh:  lipgloss.NewStyle().Foreground(lipgloss.Color("9")),
	}
}
