//! `kiosk-app`: the appliance binary.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use slint::ComponentHandle;

use kiosk_app::config::{self, Config, LogFormat};
use kiosk_app::state_file::StatePublisher;
use kiosk_app::status::{self, KioskStatus};
#[cfg(feature = "simulate")]
use kiosk_app::ui_bridge::sim_panel;
use kiosk_app::ui_bridge::{Shell, ShellOptions, offscreen};
use kiosk_app::{VERSION, bundles, display, logging, systemd};
use kiosk_journeys::{Engine, EngineOptions};

/// The hall kiosk's touchscreen application.
#[derive(Parser)]
#[command(name = "kiosk-app", version, about)]
struct Cli {
    /// Configuration file.
    #[arg(long, default_value = config::DEFAULT_PATH, conflicts_with = "simulate")]
    config: PathBuf,
    /// Run with the built-in simulated profile and ./kiosk-data (no real devices needed).
    #[arg(long)]
    simulate: bool,
    /// Render every screen to PNG files in DIR (no display needed) and exit.
    #[arg(long, value_name = "DIR")]
    screenshots: Option<PathBuf>,
    /// With --screenshots: the screen size to render at, as WIDTHxHEIGHT (repeatable; default:
    /// 1920x1080, 1366x768 and portrait 1080x1920).
    #[arg(long, value_name = "WxH", requires = "screenshots", value_parser = parse_size)]
    size: Vec<(u32, u32)>,
    /// Check the configuration and exit: status 0 if it is valid.
    #[arg(long)]
    check_config: bool,
    /// Log format on stderr (overrides the configuration).
    #[arg(long, value_enum)]
    log_format: Option<LogFormat>,
    /// Show in a window even if the configuration asks for full screen.
    #[arg(long)]
    windowed: bool,
    /// Benchmark probe: render the first frame offscreen, report timings and memory, exit.
    #[arg(long, hide = true)]
    probe_startup: bool,
    /// Seconds between looks for bundles the downlink stored (a new one restarts the app
    /// in place once no citizen is served).
    #[arg(long, default_value_t = 30, hide = true)]
    bundle_check_secs: u64,
    /// Scripted citizens without a UI: `--simulate --headless --citizens N [--central URL --token T]`.
    #[cfg(feature = "simulate")]
    #[command(flatten)]
    headless_run: kiosk_journeys::headless::HeadlessArgs,
}

fn main() -> ExitCode {
    let started = Instant::now();
    let cli = Cli::parse();
    if cli.simulate && cli.screenshots.is_none() && !cfg!(feature = "simulate") {
        eprintln!(
            "kiosk-app: this build has no simulated devices (the appliance's build); \
             --simulate needs a build with the simulate feature"
        );
        return ExitCode::from(2);
    }
    let config = match if cli.simulate {
        Config::simulate()
    } else {
        Config::load(&cli.config)
    } {
        Ok(config) => config,
        Err(e) => {
            // Logging is configured by this very file, so this goes to stderr plainly.
            eprintln!("kiosk-app: refusing to start: {e}");
            return ExitCode::from(2);
        }
    };
    if cli.check_config {
        println!("configuration is valid");
        return ExitCode::SUCCESS;
    }
    let format = cli.log_format.unwrap_or(config.logging.format);
    if let Err(e) = logging::init(format, &config.logging.level) {
        eprintln!("kiosk-app: cannot set up logging: {e:#}");
        return ExitCode::FAILURE;
    }
    // Central's config bundle (the downlink checked it before storing it) over the file; after
    // logging is up, which only the file configures, so that what was applied is logged. The
    // snapshot of the bundles comes first: one stored after it is seen as new, never missed.
    let bundles = bundles::Snapshot::take(&config.kiosk.data_dir);
    // The technician page's device choices over the file's (never in simulate mode, whose
    // devices are the simulators).
    let as_read = (!cli.simulate).then(|| config.clone());
    let config = match &as_read {
        Some(_) => with_local_devices(config),
        None => config,
    };
    let file_config = config.clone();
    let config = config.in_force();
    #[cfg(feature = "simulate")]
    if cli.headless_run.headless {
        return kiosk_journeys::headless::run_cli(config, &cli.headless_run);
    }
    match run(cli, config, started, (bundles, file_config), as_read) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("kiosk-app stopped: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(
    cli: Cli,
    config: Config,
    started: Instant,
    (bundles, file_config): (bundles::Snapshot, Config),
    as_read: Option<Config>,
) -> anyhow::Result<()> {
    let mut options = ShellOptions::from_config(&config);
    options.technician.file_config = as_read.map(Box::new);

    if let Some(dir) = &cli.screenshots {
        let sizes = if cli.size.is_empty() {
            offscreen::HALL_SIZES.to_vec()
        } else {
            cli.size.clone()
        };
        let files = offscreen::render_all_screens(options, dir, &sizes)?;
        println!("wrote {} screenshots to {}", files.len(), dir.display());
        return Ok(());
    }
    if cli.probe_startup {
        return probe_startup(options, started);
    }

    prepare_data_dir(&config.kiosk.data_dir)?;
    // Before the I/O runtime: the choice may set Slint's environment, which must happen while
    // this process has one thread.
    let drawn_on = display::select(&config.ui, cli.windowed).context("cannot open the display")?;
    tracing::info!(
        version = kiosk_app::version(),
        build = VERSION,
        kiosk = config.kiosk.id.as_deref().unwrap_or("-"),
        "kiosk starting {}",
        drawn_on.describe()
    );

    // I/O lives on a tokio runtime of its own; the UI thread only ever receives results.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("kiosk-io")
        .build()
        .context("cannot start the I/O runtime")?;

    // The state file (contract E) for the update agent and kioskctl.
    let (state, _state_writer) = {
        let _runtime = runtime.enter();
        StatePublisher::start(config.kiosk.data_dir.clone(), kiosk_app::version())
    };

    let shell = Shell::new(options).context("cannot open the UI")?;
    let session_state = state.clone();
    // New bundles from central are applied by restarting in place, but never under a citizen:
    // the restart waits for the session to end.
    let restart = Arc::new(RestartGate::default());
    // A connection chosen on the technician page: the devices are opened at start, so start
    // again (no citizen is being served while the page is open).
    let gate = restart.clone();
    shell.technician().set_restart_action(move || {
        gate.pending.store(true, Ordering::SeqCst);
        let _ = slint::quit_event_loop();
    });
    let gate = restart.clone();
    shell.on_session_change(move |active| {
        session_state.session_active(active);
        gate.session_active.store(active, Ordering::SeqCst);
        if !active && gate.pending.load(Ordering::SeqCst) {
            let _ = slint::quit_event_loop();
        }
    });
    let gate = restart.clone();
    let every = Duration::from_secs(cli.bundle_check_secs.max(1));
    runtime.spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            let (snapshot, file_config) = (bundles.clone(), file_config.clone());
            let changed = tokio::task::spawn_blocking(move || {
                // Restart only into a configuration that applies; the downlink checked the
                // bundle against the built-in profile, this against the kiosk's own file.
                snapshot.changed()
                    && match file_config.with_applied_central() {
                        Ok(_) => true,
                        Err(error) => {
                            tracing::error!(%error, "central's new configuration does not fit this kiosk's file; not applied");
                            false
                        }
                    }
            })
            .await
            .unwrap_or(false);
            if changed {
                tracing::info!("central sent new bundles; restarting to apply them once no citizen is being served");
                let _ = slint::invoke_from_event_loop(move || {
                    gate.pending.store(true, Ordering::SeqCst);
                    if !gate.session_active.load(Ordering::SeqCst) {
                        let _ = slint::quit_event_loop();
                    }
                });
                return;
            }
        }
    });
    // The journeys: devices (or their simulators), store, central. Without them the kiosk
    // still shows its shell, says the services are unavailable, and probes what it can.
    let engine = runtime.block_on(Engine::start(
        config.clone(),
        EngineOptions {
            simulate: cli.simulate,
            ..EngineOptions::default()
        },
    ));
    match &engine {
        Ok(engine) => {
            #[cfg(feature = "simulate")]
            if let Some(sim) = engine.sim() {
                sim_panel::setup(shell.window(), sim.clone());
            }
            shell.attach_engine(engine.clone());
            let mut availability = engine.availability();
            let engine_state = state.clone();
            runtime.spawn(async move {
                loop {
                    engine_state.engine(&availability.borrow_and_update());
                    if availability.changed().await.is_err() {
                        return;
                    }
                }
            });
        }
        Err(e) => {
            tracing::error!("citizen services unavailable: the journey engine did not start: {e}");
            let (status_tx, mut status_rx) =
                tokio::sync::watch::channel(KioskStatus::initial(config.central.as_ref()));
            shell.set_status(&status_rx.borrow());
            runtime.spawn(status::run_probes(
                config.central.clone(),
                config.devices.clone(),
                status_tx,
                Duration::from_secs(10),
            ));
            let sink = shell.status_sink();
            let status_state = state.clone();
            runtime.spawn(async move {
                while status_rx.changed().await.is_ok() {
                    let status = status_rx.borrow_and_update().clone();
                    status_state.status(&status);
                    sink(status);
                }
            });
        }
    }

    if drawn_on == display::Display::Window && config.ui.fullscreen && !cli.windowed {
        shell.window().window().set_fullscreen(true);
    }
    shell.window().show().context("cannot show the UI")?;

    // READY, and `ui_drawn` in the state file, once the event loop is turning with the window
    // shown (the software renderer has no after-render notifier to wait for instead).
    slint::Timer::single_shot(Duration::ZERO, move || {
        state.ui_drawn();
        tracing::info!(
            startup_ms = started.elapsed().as_millis() as u64,
            "kiosk ready"
        );
        systemd::notify_ready();
    });
    // Pinged from the UI thread: if the UI hangs, systemd restarts us.
    let watchdog = slint::Timer::default();
    if let Some(every) = systemd::watchdog_interval() {
        watchdog.start(slint::TimerMode::Repeated, every, systemd::ping_watchdog);
    }

    slint::run_event_loop_until_quit().context("the UI event loop failed")?;
    systemd::notify_stopping();
    if let Ok(engine) = engine {
        runtime.block_on(engine.shutdown());
    }
    runtime.shutdown_timeout(Duration::from_secs(2));
    if restart.pending.load(Ordering::SeqCst) {
        tracing::info!("restarting in place to apply new bundles or device connections");
        return Err(bundles::exec_self());
    }
    Ok(())
}

/// `config` with the connections chosen on the technician page (`<data_dir>/devices.toml`)
/// that still apply; each choice is logged with what became of it. A broken file of choices
/// is logged and ignored: kiosk.toml alone still makes a working kiosk.
fn with_local_devices(config: Config) -> Config {
    use kiosk_app::config::{Applied, LocalDevices};
    let local = match LocalDevices::read(&config.kiosk.data_dir) {
        Ok(local) => local,
        Err(error) => {
            tracing::error!(%error, "the technician page's device choices are ignored");
            return config;
        }
    };
    let (config, applied) = local.apply(config);
    for outcome in applied {
        match outcome {
            Applied::Used(role, link) => {
                tracing::info!(device = role.key(), %link, "using the connection chosen on the technician page")
            }
            Applied::Outdated(role) => tracing::warn!(
                device = role.key(),
                "kiosk.toml's section changed after the technician page's choice; kiosk.toml wins"
            ),
            Applied::Refused(role, why) => tracing::error!(
                device = role.key(),
                %why,
                "the technician page's choice is not used"
            ),
        }
    }
    config
}

/// `1366x768` (or `1366×768`) as a size; the window is at least 800×600.
fn parse_size(text: &str) -> Result<(u32, u32), String> {
    let (w, h) = text
        .split_once(['x', 'X', '×'])
        .ok_or_else(|| format!("{text:?} is not WIDTHxHEIGHT, e.g. 1366x768"))?;
    let number = |v: &str| {
        v.trim()
            .parse::<u32>()
            .map_err(|_| format!("{v:?} in {text:?} is not a number of pixels"))
    };
    let (w, h) = (number(w)?, number(h)?);
    if !(800..=8192).contains(&w) || !(600..=8192).contains(&h) {
        return Err(format!(
            "{w}x{h} is outside 800x600 to 8192x8192, the sizes the kiosk lays out"
        ));
    }
    Ok((w, h))
}

/// Shared by the UI thread and the bundle watcher.
#[derive(Default)]
struct RestartGate {
    /// A citizen is being served.
    session_active: AtomicBool,
    /// New bundles wait to be applied.
    pending: AtomicBool,
}

/// Creates the data directory, private to the kiosk user: it will hold citizens' records.
fn prepare_data_dir(dir: &std::path::Path) -> anyhow::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
    let mode = std::fs::metadata(dir)?.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        tracing::warn!(dir = %dir.display(), mode = format!("{mode:o}"), "data directory is readable by others");
    }
    Ok(())
}

/// For the startup benchmark: first frame at 1920×1080 with the software renderer, then the
/// resident memory after the home screen has sat idle for two seconds.
fn probe_startup(options: ShellOptions, started: Instant) -> anyhow::Result<()> {
    let window = offscreen::install()?;
    let shell = Shell::new(options)?;
    window.set_size(slint::PhysicalSize::new(1920, 1080));
    shell.window().show()?;
    let frame = offscreen::render(&window);
    let first_frame = started.elapsed();
    anyhow::ensure!(frame.width() == 1920, "nothing was rendered");
    std::thread::sleep(Duration::from_secs(2));
    slint::platform::update_timers_and_animations();
    let _ = offscreen::render(&window);
    let status = std::fs::read_to_string("/proc/self/status")?;
    let rss_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .context("no VmRSS in /proc/self/status")?;
    println!(
        "{{\"first_frame_ms\":{:.1},\"idle_rss_kib\":{rss_kib}}}",
        first_frame.as_secs_f64() * 1000.0
    );
    Ok(())
}
