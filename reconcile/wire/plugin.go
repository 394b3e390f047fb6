package wire

// RegisterRequest is a plugin's registration (§3.2), JSON.
type RegisterRequest struct {
	Name        string  `yaml:"name" json:"name"`
	Version     string  `yaml:"version" json:"version"`
	Description *string `yaml:"description" json:"description"`
}

// RegisterReply is the PM's answer (§3.3), JSON.
type RegisterReply struct {
	Status      string  `yaml:"status" json:"status"`
	Name        string  `yaml:"name,omitempty" json:"name,omitempty"`
	Version     string  `yaml:"version,omitempty" json:"version,omitempty"`
	Description *string `yaml:"description" json:"description"`
	UUID        string  `yaml:"uuid,omitempty" json:"uuid,omitempty"`
	Error       any     `yaml:"error" json:"error"`
}

// DeregisterRequest is a plugin's deregistration (§3.2).
type DeregisterRequest struct {
	UUID string `yaml:"uuid" json:"uuid"`
}

// PMReply is the PM's {"status": "OK"} (or ERROR with error) answer to a
// deregistration that manoctl adds (§14.2 P1).
type PMReply struct {
	Status string `yaml:"status" json:"status"`
	Error  string `yaml:"error,omitempty" json:"error,omitempty"`
}

// Heartbeat is a plugin's heartbeat (§3.2 step 5).
type Heartbeat struct {
	UUID  string `yaml:"uuid" json:"uuid"`
	State string `yaml:"state" json:"state"`
}

// PluginInfo is one entry of the PM's status broadcast and REST answers.
type PluginInfo struct {
	UUID            string  `yaml:"uuid" json:"uuid"`
	Name            string  `yaml:"name" json:"name"`
	Version         string  `yaml:"version" json:"version"`
	Description     *string `yaml:"description" json:"description"`
	State           string  `yaml:"state" json:"state"`
	RegisteredAt    string  `yaml:"registered_at" json:"registered_at"`
	LastHeartbeatAt string  `yaml:"last_heartbeat_at" json:"last_heartbeat_at"`
}

// PluginStatus is the PM's broadcast on platform.management.plugin.status.
type PluginStatus struct {
	Timestamp  string                `yaml:"timestamp" json:"timestamp"`
	PluginDict map[string]PluginInfo `yaml:"plugin_dict" json:"plugin_dict"`
}

// PythonTime formats t as Python's str(datetime.now()), the format of the
// PM's timestamps.
func PythonTime(t interface{ Format(string) string }) string {
	return t.Format("2006-01-02 15:04:05.000000")
}
