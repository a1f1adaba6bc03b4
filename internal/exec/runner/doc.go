// Package runner runs one app process for one task: it builds the app's
// deterministic argument list, writes the run's secret files into a private
// directory, starts the process in its own process group, captures its
// output line by line with secrets masked, and enforces timeout and stop.
//
// The only entry point is [Run]. The exec engine resolves secrets, makes a
// checkout (RepoDir) and a 0700 private directory (PrivateDir), calls Run,
// and removes both afterwards. Run returns only when every process it
// started has ended and every byte they wrote has reached the [Sink].
//
// # Argument lists
//
// No shell ever parses a command: each process gets an argument vector,
// and before it starts the sink receives one line "$ argv..." (quoted for
// display only). Secrets never appear in an argument vector, which every
// local user can read in /proc/PID/cmdline; they go into 0600 files in
// PrivateDir or into the environment.
//
//	ansible     ansible-galaxy role install -r REQ -p CACHE/ansible/roles/.tmp-SHA-*     (when needed)
//	            ansible-galaxy collection install -r REQ -p CACHE/ansible/collections/.tmp-SHA-*
//	            ansible-playbook ENTRY [-i INVENTORY] [--extra-vars @PRIV/vars.json]
//	                [--limit L] [--tags a,b] [--skip-tags c] [--check] [--diff]
//	                [--vault-password-file PRIV/vault-password]
//	                [--private-key PRIV/ssh-key] [-u USER] ARGUMENTS...
//	terraform,  BIN init -input=false -no-color                       (in RepoDir/Entry)
//	tofu        BIN workspace select -or-create=true NAME             (when Workspace; falls
//	                back to "workspace select NAME", then "workspace new NAME")
//	            BIN plan -input=false -no-color -detailed-exitcode -out=PRIV/plan.tfplan
//	                [-var-file=PRIV/vars.tfvars.json] [-var-file=VARFILE...] ARGUMENTS...
//	            BIN apply -input=false -no-color PRIV/plan.tfplan     (changes, approved)
//	bash        bash ENTRY ARGUMENTS...                               (in RepoDir)
//	python      python3 ENTRY ARGUMENTS...
//	powershell  pwsh -NoLogo -NonInteractive -File ENTRY ARGUMENTS... (Error "pwsh not found")
//
// The ansible inventory is InventoryText written to PRIV/inventory.ini (or
// inventory.yml when InventoryYAML), or InventoryPath: relative, inside
// RepoDir; absolute, inside PrivateDir (the engine checks an inventory of
// another repository out there, so its group_vars/ apply); or none.
// Other paths are refused. --check and --diff are both given in a dry run. The become
// password goes to PRIV/become-password, named by
// ANSIBLE_BECOME_PASSWORD_FILE (ansible-core 2.12 or later).
//
// Galaxy requirements come from AnsibleSpec.Requirements, else
// requirements.yml next to the playbook, else at the repository root. Roles
// and collections are installed into CACHE/ansible/{roles,collections}/SHA,
// SHA being the sha256 of the requirements file: into a temporary
// directory first, a marker file written last, then renamed into place, so
// a crash never leaves a half cache and a complete directory is reused
// without running ansible-galaxy. ANSIBLE_ROLES_PATH and
// ANSIBLE_COLLECTIONS_PATH point at them (the playbook's own roles/ and
// collections/ directories are still searched by ansible).
//
// Terraform plan exit codes: 0 is Success with Message "no changes" and no
// apply; 2 (changes) is Success "plan has changes" without apply for
// PlanOnly and DryRun; with RequireApproval, Hooks.AwaitApproval decides:
// approved applies the saved plan, rejected ends Stopped "plan rejected".
// Any other exit code is Failure.
//
// Terraform state: remote backends are the production choice. For a local
// backend, TerraformSpec.StateDir keeps terraform.tfstate and
// terraform.tfstate.d/ between runs: they are copied into the working
// directory before init and back after the run, each file written to a
// temporary name and renamed (mode 0600).
//
// # Environment
//
// Every process gets an explicit, minimal environment; nothing else of the
// daemon's environment (which holds the daemon's own secrets) is passed:
//
//	PATH    the daemon's PATH
//	HOME    PRIV/home: a fresh, private home per run, so nothing a job
//	        writes under ~ (ansible temp files, tool credentials, caches)
//	        leaks into another run; caches shared on purpose live in CacheDir
//	LANG    C.UTF-8
//	TMPDIR  PRIV/tmp
//	SEMAPHORED_RUN_DIR  PRIV: marks every process of the run (set after
//	        Spec.Env, which cannot override it; see Leftovers)
//
// plus per app: ansible ANSIBLE_FORCE_COLOR=0, ANSIBLE_NOCOLOR=1,
// PYTHONUNBUFFERED=1, ANSIBLE_LOCAL_TEMP and ANSIBLE_REMOTE_TEMP under
// PRIV/ansible-tmp, ANSIBLE_RETRY_FILES_ENABLED=0; terraform/tofu
// TF_IN_AUTOMATION=1, TF_INPUT=0, TF_PLUGIN_CACHE_DIR=CACHE/terraform-plugins;
// scripts SEMAPHORED_VARS_FILE=PRIV/vars.json (always written, "{}" when
// there are no vars), PYTHONUNBUFFERED=1 and SEMAPHORED_DRY_RUN=1 in a dry
// run. Spec.Env is applied last and may override any of these; executables
// are looked up in the resulting PATH.
//
// # Files written
//
// All in PrivateDir, mode 0600: vars.json, inventory.ini or inventory.yml,
// vault-password, ssh-key, become-password, vars.tfvars.json, plan.tfplan
// (written by terraform; it holds variable values). The directories home,
// tmp and ansible-tmp are 0700.
//
// # Output capture
//
// Standard output and standard error share one pipe (the write end is
// given as both, so their order is exactly the order of writes). The pipe
// is read until EOF, not until the process exits, so nothing buffered is
// lost; each read is stamped with the time it completed. The pipe (1 MiB)
// is read with plain blocking reads and never registered with epoll: a
// pipe that was ever polled wakes its poller on every write, which made a
// job printing line by line about a third slower than with its output on
// /dev/null. After a read shorter than 16 KiB the reader pauses 2 ms, so
// the next read takes many lines at once and the job's writes wake
// nobody; stamps can lag by that much. The stream is cut
// at "\n" ("\r\n" counts as one newline); a last line without a newline is
// still a line; lines longer than 64 KiB are passed as 64 KiB pieces. When
// a background process keeps the pipe open after the main process exited,
// the group is killed after Grace and reading stops, with a log line
// saying so. A Sink error kills the process group and ends the run with
// Error and the sink's message. The sink may block: that back-pressure
// stops reading, fills the pipe and pauses the job, so memory stays
// bounded; the runner holds at most one read buffer (64 KiB), one partial
// line (64 KiB) and the line being passed on. A stop or timeout still
// signals the job while the sink blocks, but Run returns only after the
// sink has taken (or refused) the last line: a sink must not block forever.
//
// # Masking
//
// Every non-empty value of Spec.Secrets is replaced by "***" in every line
// (the "$" command lines included) before the sink sees it, together with
// its base64 forms (standard and URL alphabets, padded and raw), its
// URL-encoded forms (Go's query and path escaping, and as other tools
// write them: space as %20 or +; only RFC 3986 unreserved characters
// kept, "/" kept too, or the sets JavaScript's encodeURIComponent and
// encodeURI keep; hex digits in upper or lower case) and its JSON-escaped
// forms (as Go's encoding/json writes it, with and without HTML escaping
// of & < >, which is what a job printing its own vars file shows; the
// ASCII-only form of Python's json.dumps with \uXXXX in either case; and
// each with "/" as "\/"). A multi-line secret is
// masked line by line (lines of at least 4 bytes) as well as in its
// encoded forms. Masking works on whole lines, so a secret written one byte
// at a time is still masked. A strings.Replacer built once per run (longest
// pattern first) does the replacing behind an allocation-free prefilter.
//
// # Signals
//
// Each process runs in its own process group (Setpgid). Cancelling ctx
// sends SIGTERM to the group and SIGKILL after Grace (default 10s): the run
// ends Stopped. Spec.Timeout, counted over the whole run, does the same and
// ends with Error "timed out after D". The exit is observed with
// waitid(WNOWAIT), so the group id stays reserved until the process is
// reaped and a signal can never reach an unrelated group. Every process
// started is waited for before Run returns.
//
// # Leftovers
//
// A job can leave its process group (setsid sleep 3600 &, a double fork,
// a daemon): such a process would outlive a stop, and even the daemon.
// Once each process of a run has exited, every process started since then
// whose environment holds the run's SEMAPHORED_RUN_DIR gets SIGKILL (through
// a pidfd, after checking again, so a reused pid is never hit), in rounds
// until none is left or Grace has passed; the task log says how many were
// killed. The daemon calls [BecomeSubreaper] at start: orphaned job
// processes are then re-parented to it rather than to init, the search
// walks only the daemon's descendants (about 0.15 ms, against a scan of
// all of /proc, about 0.8 ms, otherwise), and the daemon reaps them, as well as the
// orphans that exited by themselves during the run (zombies of other
// sessions or of other process groups than the daemon's; a process the
// runner starts leads its own group and is reaped by its exec.Cmd, so it
// is never taken). A process that scrubs its environment and leaves the
// group escapes this; a cgroup per task would not, and is not used.
package runner
