//! Command-line arguments (clap), with an example in every command's help.

use clap::{Args, Parser, Subcommand, ValueEnum};

/// cloesce: build a Cloesce project into a Cloudflare Worker, incrementally.
#[derive(Debug, Parser)]
#[command(
    name = "cloesce",
    version,
    about = "Build a Cloesce project into a Cloudflare Worker: one command, only what changed.",
    after_help = "Examples:\n  cloesce run                 build everything (the default pipeline without a cloesce.kdl)\n  cloesce graph --format dot  show the pipeline as a Graphviz graph\n  cloesce explain workers     say why the `workers` rule would run\n\nDocs: node_modules/cloesce/docs/guide.md once installed from npm (in a checkout, the docs folder).",
    infer_subcommands = false
)]
pub struct Cli {
    /// Run as if started in DIR (the project is the nearest folder upward
    /// holding cloesce.kdl or package.json).
    #[arg(short = 'C', long = "directory", global = true, value_name = "DIR")]
    pub directory: Option<String>,

    /// Colour: auto (only on a terminal, and not with NO_COLOR), always, never.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the pipeline: every rule (or the named ones and what they need),
    /// skipping what is up to date.
    #[command(
        after_help = "Examples:\n  cloesce run\n  cloesce run workers client --jobs 4\n  cloesce run --dry-run --explain\n  cloesce run --json > events.ndjson\n  cloesce run --watch"
    )]
    Run(RunArgs),

    /// Print the pipeline's rule graph.
    #[command(
        after_help = "Examples:\n  cloesce graph\n  cloesce graph --format mermaid\n  cloesce graph --format dot | dot -Tsvg > graph.svg\n  cloesce graph --status"
    )]
    Graph(GraphArgs),

    /// Say why a rule would run now, and why it ran last time.
    #[command(after_help = "Example:\n  cloesce explain workers")]
    Explain(ExplainArgs),

    /// Remove the outputs of every rule and the store in .cloesce/.
    #[command(after_help = "Example:\n  cloesce clean")]
    Clean,

    /// Check the project without running or writing anything: the pipeline
    /// file, the model files, tools, the wrangler config, tsconfig.json, the
    /// store and .gitignore. Exits 1 when a check fails.
    #[command(after_help = "Examples:\n  cloesce doctor\n  cloesce -C examples/kennel doctor")]
    Doctor,

    /// Write the next D1 migration (migrations/NNNN_NAME.sql and its
    /// snapshot) from the last migration's snapshot to the current models.
    #[command(
        after_help = "Examples:\n  cloesce migrate add_phone\n  cloesce migrate rename_bio --rename Writer.bio=biography\n  cloesce migrate tags --rename Label=Tag --allow-drop\n  cloesce migrate require_phone --default \"Writer.phone='unknown'\"\n  cloesce migrate --check\n  cloesce migrate --amend\n\nDocs: node_modules/cloesce/docs/migrations.md."
    )]
    Migrate(MigrateArgs),

    /// Write a commented cloesce.kdl that extends the default pipeline, a
    /// tsconfig.json with the decorators models need (when there is none),
    /// and add .cloesce/ and .generated/ to .gitignore.
    #[command(after_help = "Example:\n  cloesce init && cloesce doctor")]
    Init,

    /// Print a shell completion script.
    #[command(
        after_help = "Examples:\n  cloesce completions bash > ~/.local/share/bash-completion/completions/cloesce\n  cloesce completions zsh > \"${fpath[1]}/_cloesce\"\n  cloesce completions fish > ~/.config/fish/completions/cloesce.fish\n  cloesce completions powershell >> $PROFILE"
    )]
    Completions(CompletionsArgs),

    /// Inspect or maintain the store in .cloesce/.
    #[command(
        subcommand,
        after_help = "Examples:\n  cloesce cache stats\n  cloesce cache verify\n  cloesce cache gc --max-size 200MB"
    )]
    Cache(CacheCommand),
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Rules to run, with everything they depend on (default: all).
    #[arg(value_name = "RULE")]
    pub rules: Vec<String>,

    /// How many rules may run at once (default: the number of CPUs).
    #[arg(short = 'j', long, value_name = "N")]
    pub jobs: Option<usize>,

    /// After a failure, keep running every rule that does not depend on it.
    #[arg(short = 'k', long)]
    pub keep_going: bool,

    /// Say what would run and why, without running or writing anything.
    #[arg(short = 'n', long)]
    pub dry_run: bool,

    /// Print why each rule runs or is restored.
    #[arg(long)]
    pub explain: bool,

    /// Run every rule even when a cached result exists (results are still
    /// recorded).
    #[arg(long)]
    pub no_cache: bool,

    /// Fail at once instead of waiting when another cloesce run holds the
    /// project lock.
    #[arg(long)]
    pub no_wait: bool,

    /// Do not use the remote cache configured in cloesce.kdl or
    /// CLOESCE_REMOTE_CACHE_URL for this run (see node_modules/cloesce/docs/remote-cache.md).
    #[arg(long)]
    pub no_remote_cache: bool,

    /// Print every rule, its command, its cache decision and the replayed
    /// output of fresh and restored rules.
    #[arg(short = 'v', long, conflicts_with = "quiet")]
    pub verbose: bool,

    /// Print only errors.
    #[arg(short = 'q', long)]
    pub quiet: bool,

    /// Print newline-delimited JSON events instead of text (see node_modules/cloesce/docs/cli.md).
    #[arg(long)]
    pub json: bool,

    /// After the first run, run again whenever an input changes (Ctrl-C
    /// stops).
    #[arg(short = 'w', long, conflicts_with = "dry_run")]
    pub watch: bool,
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The migration's name: letters, digits, `_` and `-` (the file becomes
    /// NNNN_NAME.sql). With --amend, the default is the latest's name.
    #[arg(value_name = "NAME", required_unless_present_any = ["check", "amend"])]
    pub name: Option<String>,

    /// A rename to keep the data of: `Model.old=new` (a field) or
    /// `OldModel=NewModel`. Repeat for several. Never guessed: on a
    /// terminal, each field a model lost while it gained another is asked
    /// about (y/N); scripts and CI are never asked.
    #[arg(long, value_name = "FROM=TO")]
    pub rename: Vec<String>,

    /// Let the migration drop tables and columns (and the rows a rebuild
    /// cannot keep); without it such a migration is refused with a list.
    #[arg(long)]
    pub allow_drop: bool,

    /// The value existing rows get for a new NOT NULL field, or for NULLs
    /// in a field that becomes NOT NULL: `Model.field=SQL_LITERAL` (42, 1.5,
    /// 'text', X'00'). Repeat for several.
    #[arg(long = "default", value_name = "MODEL.FIELD=VALUE")]
    pub defaults: Vec<String>,

    /// Write nothing; exit 1 when the models differ from the last migration
    /// (for CI).
    #[arg(long, conflicts_with = "amend")]
    pub check: bool,

    /// Rewrite the latest migration against the current models. Only for a
    /// migration not yet applied anywhere (see node_modules/cloesce/docs/migrations.md).
    #[arg(long)]
    pub amend: bool,
}

impl RunArgs {
    /// A one-shot run of `rules` that prints only errors (for commands that
    /// build first, like `migrate`).
    pub fn quiet(rules: Vec<String>) -> RunArgs {
        RunArgs {
            rules,
            jobs: None,
            keep_going: false,
            dry_run: false,
            explain: false,
            no_cache: false,
            no_wait: false,
            no_remote_cache: false,
            verbose: false,
            quiet: true,
            json: false,
            watch: false,
        }
    }
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: Shell,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
    Powershell,
}

#[derive(Debug, Args)]
pub struct GraphArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = GraphFormat::Text)]
    pub format: GraphFormat,

    /// Mark each rule fresh, restorable or will-run (and why).
    #[arg(long)]
    pub status: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    Text,
    Dot,
    Mermaid,
    Json,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The rule to explain.
    pub rule: String,
}

#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// Show how many entries and bytes the store holds.
    Stats,
    /// Check every entry and blob; remove the ones that are damaged.
    Verify,
    /// Evict least-recently-used entries until the store fits the cap.
    Gc {
        /// The cap, e.g. 500MB or 2GB (default 1GB).
        #[arg(long, value_name = "SIZE")]
        max_size: Option<String>,
    },
}
