package config

import (
	"time"

	"github.com/semaphored/semaphored/internal/task"
)

// This file holds the declaration types: the typed, defaulted, read-only
// values the loader hands out after validation. The same structs are stored
// in the state as JSON (see Object), so every field that matters for a diff
// has a json tag and every position is excluded from it. Secret values are
// kept as references (Secret) and are only turned into clear text by a
// Resolver at the moment a run needs them.

// Config is one loaded and validated revision of the whole config tree.
type Config struct {
	Settings Settings            `json:"settings"`
	Projects map[string]*Project `json:"projects"`
}

// Settings are the daemon-wide settings, declared under a top-level
// `settings:` key in at most one file of the tree.
type Settings struct {
	// MaxParallelTasks is the global limit on tasks past waiting (default 4).
	MaxParallelTasks int `yaml:"max_parallel_tasks" json:"max_parallel_tasks"`
	// Retention bounds how many finished tasks the state keeps.
	Retention Retention `yaml:"retention" json:"retention"`
	// MaxLogBytes caps the stored log of one task; output past it is
	// dropped and a truncation marker is stored (default 64 MiB).
	MaxLogBytes ByteSize `yaml:"max_log_bytes" json:"max_log_bytes"`
	// StopGracePeriod is how long a stopped or timed-out process gets
	// between SIGTERM and SIGKILL (default 10s).
	StopGracePeriod Duration `yaml:"stop_grace_period" json:"stop_grace_period"`
	// DrainTimeout is how long running tasks may go on finishing when the
	// daemon is asked to stop (SIGTERM) before they are stopped; 0 stops
	// them at once (default 15s: with the 10s stop grace period it fits
	// Kubernetes' default 30s termination grace period and systemd's 90s).
	DrainTimeout Duration `yaml:"drain_timeout" json:"drain_timeout"`
	// APITokens are keyed by name.
	APITokens map[string]*APIToken `yaml:"api_tokens" json:"api_tokens"`
	// Links sets the expiry of signed task links.
	Links Links `yaml:"links" json:"links"`
	// ConfigRepo declares the forge of the config repository itself, so
	// that a push to it starts a sync at once (optional).
	ConfigRepo *ConfigRepo `yaml:"config_repo" json:"config_repo,omitempty"`
	// Webhooks tunes the webhook receivers.
	Webhooks Webhooks `yaml:"webhooks" json:"webhooks"`

	Pos Pos `yaml:"-" json:"-"`
}

// Retention is the per-template retention policy: a finished task is pruned
// when it is older than KeepDays or beyond the newest KeepTasks of its
// template. Zero means no limit on that axis. Defaults: 100 tasks, 30 days.
type Retention struct {
	KeepTasks int `yaml:"keep_tasks" json:"keep_tasks"`
	KeepDays  int `yaml:"keep_days" json:"keep_days"`
}

// ConfigRepo is the config repository as its forge knows it.
type ConfigRepo struct {
	// Forge is where its push webhooks come from (type, repo, secret);
	// Repo is required: the daemon's --config URL is not part of the tree.
	Forge *Forge `yaml:"forge" json:"forge,omitempty"`

	Pos Pos `yaml:"-" json:"-"`
}

// Webhooks are the settings of the webhook receivers.
type Webhooks struct {
	// MaxBody is the largest request body accepted (default 25MiB,
	// GitHub's own cap); a larger one is refused with 413 unread.
	MaxBody ByteSize `yaml:"max_body" json:"max_body"`
}

// Scope is what an API token may do. Each scope includes the ones before it.
type Scope string

const (
	ScopeRead  Scope = "read"
	ScopeRun   Scope = "run"
	ScopeAdmin Scope = "admin"
)

// APIToken is a bearer token for the HTTP API.
type APIToken struct {
	Name  string `yaml:"-" json:"name"`
	Token Secret `yaml:"token" json:"token"`
	Scope Scope  `yaml:"scope" json:"scope"`
	// Projects limits the token to these projects; empty means all.
	Projects []string `yaml:"projects" json:"projects,omitempty"`

	Pos Pos `yaml:"-" json:"-"`
}

// Project is everything declared for one project, merged from every file
// that says `project: NAME`.
type Project struct {
	Name        string `yaml:"-" json:"name"`
	Description string `yaml:"description" json:"description,omitempty"`
	// MaxParallelTasks is the per-project limit; 0 means only the global one.
	MaxParallelTasks int `yaml:"max_parallel_tasks" json:"max_parallel_tasks,omitempty"`

	Repositories map[string]*Repository  `yaml:"repositories" json:"-"`
	Keys         map[string]*Key         `yaml:"keys" json:"-"`
	Inventories  map[string]*Inventory   `yaml:"inventories" json:"-"`
	Environments map[string]*Environment `yaml:"environments" json:"-"`
	Templates    map[string]*Template    `yaml:"templates" json:"-"`
	Schedules    map[string]*Schedule    `yaml:"schedules" json:"-"`
	Integrations map[string]*Integration `yaml:"integrations" json:"-"`
	// Notifications are where messages about task ends go (see Notification).
	Notifications map[string]*Notification `yaml:"notifications" json:"-"`

	Pos Pos `yaml:"-" json:"-"`
}

// ForgeType names the forge a repository lives on.
type ForgeType string

const (
	ForgeGitHub ForgeType = "github"
	ForgeGitLab ForgeType = "gitlab"
	ForgeGitea  ForgeType = "gitea"
)

// Repository is a git repository jobs run from.
type Repository struct {
	Name string `yaml:"-" json:"name"`
	// URL is https://, http://, ssh://, scp-like user@host:path, file://, or
	// a local path: absolute, or relative to the config tree root when it is
	// "." or starts with "./" or "../". It is kept as written; exec resolves
	// a relative path at run time, and a local path that is not a git
	// repository is used as a plain directory.
	URL string `yaml:"url" json:"url"`
	// Branch is the default branch (default "main").
	Branch string `yaml:"branch" json:"branch"`
	// Key names a key of the same project used to fetch (optional).
	Key string `yaml:"key" json:"key,omitempty"`
	// Forge is where commit statuses go and webhooks come from (optional).
	Forge *Forge `yaml:"forge" json:"forge,omitempty"`

	Pos Pos `yaml:"-" json:"-"`
}

// Forge describes the forge hosting a repository.
type Forge struct {
	Type ForgeType `yaml:"type" json:"type"`
	// APIURL defaults to https://api.github.com for github; required for
	// gitlab and gitea.
	APIURL string `yaml:"api_url" json:"api_url"`
	// Repo is "owner/name" (GitLab: the project path); derived from the
	// repository URL when empty.
	Repo          string  `yaml:"repo" json:"repo"`
	Token         *Secret `yaml:"token" json:"token,omitempty"`
	WebhookSecret *Secret `yaml:"webhook_secret" json:"webhook_secret,omitempty"`

	Pos Pos `yaml:"-" json:"-"`
}

// KeyType is the kind of credential a Key holds.
type KeyType string

const (
	KeySSH           KeyType = "ssh"
	KeyLoginPassword KeyType = "login_password"
	KeyToken         KeyType = "token"
	KeyNone          KeyType = "none"
)

// Key is a credential: for git (ssh key, login/password or token over
// https) or for hosts (the ssh key an inventory connects with).
type Key struct {
	Name string  `yaml:"-" json:"name"`
	Type KeyType `yaml:"type" json:"type"`
	// ssh
	PrivateKey *Secret `yaml:"private_key" json:"private_key,omitempty"`
	Passphrase *Secret `yaml:"passphrase" json:"passphrase,omitempty"`
	// KnownHosts is a path to a known_hosts file used to check host keys
	// (default: $SSH_KNOWN_HOSTS, then ~/.ssh/known_hosts).
	KnownHosts string `yaml:"known_hosts" json:"known_hosts,omitempty"`
	// InsecureIgnoreHostKey turns host key checking off; say so loudly.
	InsecureIgnoreHostKey bool `yaml:"insecure_ignore_host_key" json:"insecure_ignore_host_key,omitempty"`
	// User is the ssh user for git (default "git") or the login for hosts.
	User string `yaml:"user" json:"user,omitempty"`
	// login_password
	Login    string  `yaml:"login" json:"login,omitempty"`
	Password *Secret `yaml:"password" json:"password,omitempty"`
	// token
	Token *Secret `yaml:"token" json:"token,omitempty"`

	Pos Pos `yaml:"-" json:"-"`
}

// InventoryType is where an inventory comes from.
type InventoryType string

const (
	InventoryStatic     InventoryType = "static"      // INI text in Static
	InventoryStaticYAML InventoryType = "static_yaml" // YAML text in Static
	InventoryFile       InventoryType = "file"        // Path in Repository (default: the template's)
	InventoryNone       InventoryType = "none"
)

// Inventory is an Ansible inventory.
type Inventory struct {
	Name       string        `yaml:"-" json:"name"`
	Type       InventoryType `yaml:"type" json:"type"`
	Static     string        `yaml:"static" json:"static,omitempty"`
	Repository string        `yaml:"repository" json:"repository,omitempty"`
	Path       string        `yaml:"path" json:"path,omitempty"`
	// SSHKey names a key (type ssh) ansible connects to hosts with.
	SSHKey string `yaml:"ssh_key" json:"ssh_key,omitempty"`
	// BecomeKey names a login_password key used for become (sudo).
	BecomeKey string `yaml:"become_key" json:"become_key,omitempty"`

	Pos Pos `yaml:"-" json:"-"`
}

// Environment is what a task's process gets besides its template.
type Environment struct {
	Name string `yaml:"-" json:"name"`
	// Vars are extra vars (ansible --extra-vars, terraform variables),
	// any JSON-like value.
	Vars map[string]any `yaml:"vars" json:"vars,omitempty"`
	// Env are plain environment variables.
	Env map[string]string `yaml:"env" json:"env,omitempty"`
	// Secrets are secret environment variables and secret vars.
	Secrets EnvironmentSecrets `yaml:"secrets" json:"secrets"`

	Pos Pos `yaml:"-" json:"-"`
}

// EnvironmentSecrets are secret values given to a run, by reference.
type EnvironmentSecrets struct {
	Env  map[string]Secret `yaml:"env" json:"env,omitempty"`
	Vars map[string]Secret `yaml:"vars" json:"vars,omitempty"`
}

// App is the tool a template runs.
type App string

const (
	AppAnsible    App = "ansible"
	AppTerraform  App = "terraform"
	AppTofu       App = "tofu"
	AppBash       App = "bash"
	AppPython     App = "python"
	AppPowerShell App = "powershell"
)

// Override names a task parameter a caller may set when the template
// allows it: the JSON names of task.Overrides' fields.
type Override string

const (
	OverrideVars      Override = task.OverrideVars
	OverrideBranch    Override = task.OverrideBranch
	OverrideCommit    Override = task.OverrideCommit
	OverrideArguments Override = task.OverrideArguments
	OverrideLimit     Override = task.OverrideLimit
	OverrideTags      Override = task.OverrideTags
	OverrideSkipTags  Override = task.OverrideSkipTags
	OverrideDryRun    Override = task.OverrideDryRun
	OverrideWorkspace Override = task.OverrideWorkspace
)

// Template is a job: an app run from a repository with its parameters.
type Template struct {
	Name        string `yaml:"-" json:"name"`
	Description string `yaml:"description" json:"description,omitempty"`
	App         App    `yaml:"app" json:"app"`
	Repository  string `yaml:"repository" json:"repository"`
	// Playbook is the ansible playbook path in the repository.
	Playbook string `yaml:"playbook" json:"playbook,omitempty"`
	// Script is the bash/python/powershell script path in the repository.
	Script string `yaml:"script" json:"script,omitempty"`
	// Directory is the working directory in the repository (default ".");
	// terraform/tofu run there.
	Directory   string `yaml:"directory" json:"directory,omitempty"`
	Inventory   string `yaml:"inventory" json:"inventory,omitempty"`
	Environment string `yaml:"environment" json:"environment,omitempty"`
	// Arguments are appended to the app's argument list, as given.
	Arguments      []string   `yaml:"arguments" json:"arguments,omitempty"`
	AllowOverrides []Override `yaml:"allow_overrides" json:"allow_overrides,omitempty"`
	// Timeout ends a run with status error "timed out" (default 1h; 0 in
	// YAML means the default).
	Timeout Duration `yaml:"timeout" json:"timeout"`
	// Concurrency is how many tasks of this template run at once (default
	// 1: one at a time, in order).
	Concurrency int `yaml:"concurrency" json:"concurrency"`
	// Supersede lets a newer request replace older tasks still waiting.
	Supersede bool `yaml:"supersede" json:"supersede,omitempty"`

	Ansible   *AnsibleOptions   `yaml:"ansible" json:"ansible,omitempty"`
	Terraform *TerraformOptions `yaml:"terraform" json:"terraform,omitempty"`
	Triggers  Triggers          `yaml:"triggers" json:"triggers"`

	Pos Pos `yaml:"-" json:"-"`
}

// AnsibleOptions are the ansible-playbook parameters of a template.
type AnsibleOptions struct {
	Limit    string   `yaml:"limit" json:"limit,omitempty"`
	Tags     []string `yaml:"tags" json:"tags,omitempty"`
	SkipTags []string `yaml:"skip_tags" json:"skip_tags,omitempty"`
	Check    bool     `yaml:"check" json:"check,omitempty"`
	Diff     bool     `yaml:"diff" json:"diff,omitempty"`
	// VaultPassword unlocks ansible-vault content.
	VaultPassword *Secret `yaml:"vault_password" json:"vault_password,omitempty"`
	// Requirements is the galaxy requirements file (default
	// "requirements.yml" next to the playbook or at the repository root,
	// used when present).
	Requirements string `yaml:"requirements" json:"requirements,omitempty"`
}

// TerraformOptions are the terraform/tofu parameters of a template.
type TerraformOptions struct {
	Workspace string   `yaml:"workspace" json:"workspace,omitempty"`
	VarFiles  []string `yaml:"var_files" json:"var_files,omitempty"`
	// RequireApproval leaves a plan with changes in waiting_confirmation
	// until it is confirmed or rejected.
	RequireApproval bool `yaml:"require_approval" json:"require_approval,omitempty"`
	// PlanOnly never applies.
	PlanOnly bool `yaml:"plan_only" json:"plan_only,omitempty"`
}

// Triggers say which events create tasks of a template.
type Triggers struct {
	Push        *PushTrigger        `yaml:"push" json:"push,omitempty"`
	PullRequest *PullRequestTrigger `yaml:"pull_request" json:"pull_request,omitempty"`
	Schedule    *ScheduleTrigger    `yaml:"schedule" json:"schedule,omitempty"`
}

// PushTrigger runs the template on a push to its repository.
type PushTrigger struct {
	// Branches are glob patterns (default: the repository's branch).
	Branches []string `yaml:"branches" json:"branches,omitempty"`
	// Paths are glob patterns ("**" allowed); empty means any change.
	Paths []string `yaml:"paths" json:"paths,omitempty"`
	// Tags are glob patterns of tags whose push runs the template; a tag
	// push runs nothing when empty.
	Tags []string `yaml:"tags" json:"tags,omitempty"`
}

// PRMode is how a pull request runs a template: never an apply.
type PRMode string

const (
	PRModeCheck PRMode = "check" // ansible --check --diff; scripts with SEMAPHORED_DRY_RUN=1
	PRModePlan  PRMode = "plan"  // terraform/tofu plan only
)

// PullRequestTrigger runs the template in check or plan mode on a PR.
type PullRequestTrigger struct {
	// Branches are glob patterns of the PR's base branch.
	Branches []string `yaml:"branches" json:"branches,omitempty"`
	Paths    []string `yaml:"paths" json:"paths,omitempty"`
	// Mode defaults to plan for terraform/tofu and check otherwise.
	Mode PRMode `yaml:"mode" json:"mode"`
	// Forks lets pull requests from forks run, without the project's
	// secrets (default false: a fork's pull request runs nothing).
	Forks bool `yaml:"forks" json:"forks,omitempty"`
}

// Overlap says what a schedule does with a slot while its previous task
// still waits or runs.
type Overlap string

const (
	OverlapSkip  Overlap = "skip"  // record the slot as skipped (default)
	OverlapQueue Overlap = "queue" // queue a task anyway
)

// CatchUp says what a schedule does with slots missed while the daemon was
// down.
type CatchUp string

const (
	CatchUpNone CatchUp = "none" // forget them (default)
	CatchUpLast CatchUp = "last" // run the last missed slot once
)

// ScheduleTrigger is a cron schedule written on the template itself.
type ScheduleTrigger struct {
	Cron     string `yaml:"cron" json:"cron"`
	Timezone string `yaml:"timezone" json:"timezone,omitempty"`
	// Overlap is skip (default: a slot whose previous task still waits or
	// runs is recorded as skipped) or queue.
	Overlap Overlap `yaml:"overlap" json:"overlap,omitempty"`
	// CatchUp is none (default) or last: run the last slot missed while the
	// daemon was down, once.
	CatchUp CatchUp `yaml:"catch_up" json:"catch_up,omitempty"`
}

// Schedule runs a template on cron with optional overrides.
type Schedule struct {
	Name     string         `yaml:"-" json:"name"`
	Cron     string         `yaml:"cron" json:"cron"`
	Timezone string         `yaml:"timezone" json:"timezone,omitempty"` // default UTC
	Template string         `yaml:"template" json:"template"`
	Vars     map[string]any `yaml:"vars" json:"vars,omitempty"`
	Branch   string         `yaml:"branch" json:"branch,omitempty"`
	// Active defaults to true.
	Active *bool `yaml:"active" json:"active"`
	// Overlap is skip (default: a slot whose previous task still waits or
	// runs is recorded as skipped) or queue.
	Overlap Overlap `yaml:"overlap" json:"overlap,omitempty"`
	// CatchUp is none (default) or last: run the last slot missed while the
	// daemon was down, once.
	CatchUp CatchUp `yaml:"catch_up" json:"catch_up,omitempty"`

	Pos Pos `yaml:"-" json:"-"`
}

// IntegrationAuthType is how an incoming generic webhook proves itself.
type IntegrationAuthType string

const (
	IntegrationAuthHMAC  IntegrationAuthType = "hmac"  // HMAC-SHA256 of the body, hex, in Header (optionally "sha256=" prefixed)
	IntegrationAuthToken IntegrationAuthType = "token" // the secret equals the Header's value
	IntegrationAuthNone  IntegrationAuthType = "none"
)

// Integration is a generic incoming webhook that creates a task.
type Integration struct {
	Name       string          `yaml:"-" json:"name"`
	Template   string          `yaml:"template" json:"template"`
	Auth       IntegrationAuth `yaml:"auth" json:"auth"`
	Matchers   []Matcher       `yaml:"matchers" json:"matchers,omitempty"`
	Extractors []Extractor     `yaml:"extractors" json:"extractors,omitempty"`

	Pos Pos `yaml:"-" json:"-"`
}

// IntegrationAuth authenticates an integration's requests.
type IntegrationAuth struct {
	Type   IntegrationAuthType `yaml:"type" json:"type"`
	Header string              `yaml:"header" json:"header,omitempty"`
	Secret *Secret             `yaml:"secret" json:"secret,omitempty"`
}

// Matcher selects requests: exactly one of Header or Body (a dotted path
// into the JSON body with array indexes, e.g. "alerts.0.status") is
// compared by at most one operator: Equals (also the meaning of none, with
// the empty string), NotEquals, Contains or Regex (RE2, unanchored).
type Matcher struct {
	Header string `yaml:"header" json:"header,omitempty"`
	Body   string `yaml:"body" json:"body,omitempty"`
	Equals string `yaml:"equals" json:"equals"`
	// NotEquals matches a value other than this one (a missing value too).
	NotEquals string `yaml:"not_equals" json:"not_equals,omitempty"`
	// Contains matches a value containing this text.
	Contains string `yaml:"contains" json:"contains,omitempty"`
	// Regex matches a value this RE2 expression finds a match in
	// (unanchored: write ^...$ for the whole value).
	Regex string `yaml:"regex" json:"regex,omitempty"`
}

// Extractor turns a request value into a task var.
type Extractor struct {
	Var    string `yaml:"var" json:"var"`
	Header string `yaml:"header" json:"header,omitempty"`
	Body   string `yaml:"body" json:"body,omitempty"`
}

// Duration is a time.Duration written as a Go duration string ("90s", "1h").
type Duration time.Duration

// ByteSize is a size in bytes written as an integer or with a unit
// ("64MiB", "100MB", "512KiB").
type ByteSize int64

// Pos is where something was declared: file (relative to the tree root),
// line and column (1-based).
type Pos struct {
	File string
	Line int
	Col  int
}
