package bus

// AppendJSON exports appendJSON to the external tests.
var AppendJSON = appendJSON
