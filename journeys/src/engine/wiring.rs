//! The engine's wiring: the store, the link to central, the devices (or the simulators),
//! the queue keeper and the actor, started in that order.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kiosk_api::catalog::Catalog;
use kiosk_api::citizen::{HolderKey, HolderKeys};
use kiosk_api::{HallCode, KioskNo, NumberBand};
use kiosk_core::config::Config;
use kiosk_core::identity::Identity;
use kiosk_core::store::{Store, StoreKey, StoreOptions};
use kiosk_core::sync::{CentralClient, Downlink, DownlinkHandle, Timeouts, Uplink, UplinkHandle};
use kiosk_hal::{DeviceHealth, DeviceKind};
use kiosk_idcard::ReaderEvent;
use tokio::sync::{Notify, mpsc, watch};

use super::actor::{Actor, Channels, Session};
use super::devices::{ConfiguredLoad, PrinterSlot, ScannerSlot, spawn_reader};
use super::jobs::Bay;
use super::queue::{Keeper, QueueInfo};
use super::tickets::Unsettled;
use super::{EngineError, EngineHandle, EngineOptions, Stats};
use crate::model::{Availability, Screen, Text};
use crate::sim::SimDevices;
use crate::voice::Voice;

/// Numbers used when the kiosk was never enrolled (simulate mode without central).
const UNENROLLED_BAND: NumberBand = NumberBand {
    first: 500,
    last: 999,
};

/// The digits that make this kiosk's application numbers its own: the hall's code and the
/// kiosk's number in the hall, from the enrolment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Numbering {
    pub(super) hall: HallCode,
    pub(super) kiosk: KioskNo,
}

impl Numbering {
    /// An enrolled kiosk's, from its identity.
    fn of(identity: &Identity) -> Numbering {
        Numbering {
            hall: identity.hall_code,
            kiosk: identity.kiosk_no,
        }
    }

    /// A simulated kiosk that was never enrolled has no hall code from central. It numbers
    /// in hall 9999 (central hands out hall codes from 1 up, one per hall) as the kiosk
    /// number the simulate profile's `kiosk.id` ends in (`SIM-0001` is 1). Such a kiosk has no
    /// uplink; should its data folder ever be enrolled, central refuses these numbers as
    /// not the kiosk's (`number_not_yours`) and the kiosk quarantines them, visibly.
    fn simulated(config: &Config) -> Option<Numbering> {
        let digits: String = config
            .kiosk
            .id
            .as_deref()
            .unwrap_or_default()
            .chars()
            .rev()
            .take_while(char::is_ascii_digit)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        let no = digits.parse::<u32>().unwrap_or(1) % 100;
        Some(Numbering {
            hall: HallCode::new(HallCode::MAX).ok()?,
            kiosk: KioskNo::new(no.max(1) as u8).ok()?,
        })
    }
}

/// The link to central of an enrolled kiosk.
#[derive(Default)]
struct Link {
    client: Option<CentralClient>,
    uplink: Option<UplinkHandle>,
    downlink: Option<DownlinkHandle>,
}

/// The devices as the actor holds them.
struct Devices {
    reader_events: Option<mpsc::Receiver<ReaderEvent>>,
    reader_health: Option<watch::Receiver<DeviceHealth>>,
    dispenser: Option<PrinterSlot>,
    receipt: Option<PrinterSlot>,
    scanner: Option<ScannerSlot>,
}

/// Opens the store, starts the devices (or the simulators), the link to central if the
/// kiosk is enrolled, the queue keeper and the actor.
pub(super) async fn start(
    config: Config,
    options: EngineOptions,
) -> Result<EngineHandle, EngineError> {
    let data_dir = config.kiosk.data_dir.clone();
    std::fs::create_dir_all(&data_dir).map_err(|source| {
        EngineError::Store(kiosk_core::store::StoreError::Io {
            path: data_dir.clone(),
            source,
        })
    })?;
    let sim = if options.simulate {
        Some(SimDevices::start(&data_dir)?)
    } else {
        None
    };
    let store = open_store(&config, &data_dir).await?;
    let identity = Identity::load(&data_dir)?.map(|mut identity| {
        // The configuration's CA file wins over the copy kept at enrolment: ops may renew it.
        if let Some(path) = config.central.as_ref().and_then(|c| c.ca_file.as_ref()) {
            match std::fs::read_to_string(path) {
                Ok(pem) => identity.central_ca_pem = Some(pem),
                Err(error) => tracing::error!(
                    %error,
                    path = %path.display(),
                    "the CA file for central cannot be read; the CA kept at enrolment is used"
                ),
            }
        }
        identity
    });
    let link = match &identity {
        Some(identity) => connect(identity, &data_dir, &store)?,
        None => {
            tracing::info!("kiosk not enrolled: journeys run offline on the band 500-999");
            Link::default()
        }
    };
    let catalog = Arc::new(
        options
            .catalog
            .clone()
            .or_else(|| crate::catalog::applied(&data_dir))
            .unwrap_or_else(crate::catalog::sample),
    );
    let take = options
        .ticket_take_timeout
        .or(sim.as_ref().map(|_| Duration::ZERO));
    let devices = open_devices(&config, sim.as_ref(), take).await;
    let keys = Arc::new(Mutex::new(
        load_holder_keys(&store, identity.is_none() && options.simulate).await,
    ));
    let numbering = match &identity {
        Some(identity) => Some(Numbering::of(identity)),
        None if options.simulate => Numbering::simulated(&config),
        None => None,
    };
    let band = identity.as_ref().map_or(UNENROLLED_BAND, |i| i.number_band);
    let queue = Arc::new(Mutex::new(QueueInfo::default()));
    let keeper_wake = Arc::new(Notify::new());
    let reconnected = Arc::new(Notify::new());
    tokio::spawn(
        Keeper {
            store: store.clone(),
            client: link.client.clone(),
            clock: options.clock.clone(),
            keys: keys.clone(),
            info: queue.clone(),
            categories: catalog.categories.iter().map(|c| c.code.clone()).collect(),
            lease_size: config.queue.lease_size,
            low_water: config.queue.low_water,
            refresh: Duration::from_secs(config.queue.state_refresh_secs.max(1)),
            wake: keeper_wake.clone(),
            reconnected: reconnected.clone(),
        }
        .run(),
    );
    let parts = Parts {
        config,
        options,
        catalog,
        store,
        band,
        numbering,
        keys,
        queue,
        keeper_wake,
        link,
        sim,
    };
    Ok(spawn_actor(parts, devices, reconnected).await)
}

/// What the actor is built from besides its devices.
struct Parts {
    config: Config,
    options: EngineOptions,
    catalog: Arc<Catalog>,
    store: Store,
    band: NumberBand,
    numbering: Option<Numbering>,
    keys: Arc<Mutex<Option<HolderKeys>>>,
    queue: Arc<Mutex<QueueInfo>>,
    keeper_wake: Arc<Notify>,
    link: Link,
    sim: Option<SimDevices>,
}

/// Builds the actor, settles numbers a crash left open, publishes the first screen and
/// starts the actor's task.
async fn spawn_actor(p: Parts, devices: Devices, reconnected: Arc<Notify>) -> EngineHandle {
    let config = p.config;
    let session = Session::new(&config);
    let voice = if p.options.voice {
        Voice::new(&config.voice)
    } else {
        Voice::silent()
    };
    let help_window = Text::new(&config.hall.help_window_zh, &config.hall.help_window_en);
    let (screen_tx, screen) = watch::channel(Screen::default());
    let (availability_tx, availability) = watch::channel(Availability::default());
    let (stats_tx, stats) = watch::channel(Stats::default());
    let (commands, commands_rx) = mpsc::unbounded_channel();
    let (help_tx, help_rx) = mpsc::unbounded_channel();
    let (jobs_tx, jobs_rx) = mpsc::unbounded_channel();
    let stop = Arc::new(Notify::new());
    let sim_controls = p.sim.as_ref().map(SimDevices::controls);
    let store = p.store.clone();
    let mut actor = Actor {
        config,
        catalog: p.catalog,
        store: p.store,
        band: p.band,
        numbering: p.numbering,
        clock: p.options.clock.clone(),
        keys: p.keys,
        help_poll: None,
        help_tx,
        unsettled: Unsettled::default(),
        client: p.link.client,
        uplink: p.link.uplink,
        downlink: p.link.downlink,
        queue: p.queue,
        keeper_wake: p.keeper_wake,
        dispenser: Bay::new(devices.dispenser),
        receipt: Bay::new(devices.receipt),
        scanner: Bay::new(devices.scanner),
        jobs_tx,
        jobs_out: 0,
        reader_health: devices.reader_health,
        voice,
        session,
        run: Default::default(),
        revision: 0,
        stats: Stats::default(),
        screen_tx,
        availability_tx,
        stats_tx,
        help_window,
        _sim: p.sim,
    };
    actor.settle_interrupted().await;
    actor.publish_availability();
    actor.publish();
    let task = tokio::spawn(actor.run(Channels {
        commands: commands_rx,
        cards: devices.reader_events,
        help_updates: help_rx,
        jobs: jobs_rx,
        stop: stop.clone(),
        reconnected,
    }));
    EngineHandle {
        commands,
        screen,
        availability,
        stats,
        sim: sim_controls,
        store,
        stop,
        stopped: Arc::new(tokio::sync::Mutex::new(Some(task))),
    }
}

/// Opens (or creates) the store in the data folder.
async fn open_store(config: &Config, data_dir: &Path) -> Result<Store, EngineError> {
    let io = |source| {
        EngineError::Store(kiosk_core::store::StoreError::Io {
            path: data_dir.to_owned(),
            source,
        })
    };
    let dir = data_dir.to_owned();
    let store_options = StoreOptions {
        budget: config.kiosk.disk_budget.budget(),
        ..StoreOptions::default()
    };
    let opened = tokio::task::spawn_blocking(move || {
        let key = StoreKey::load_or_create(&dir.join("store.key"))?;
        Store::open(&dir, key, store_options)
    })
    .await
    .map_err(|e| io(std::io::Error::other(e.to_string())))?;
    Ok(opened?)
}

/// The enrolled kiosk's link: a client for the citizen's calls, the uplink and downlink.
fn connect(identity: &Identity, data_dir: &Path, store: &Store) -> Result<Link, EngineError> {
    // Short timeouts for the citizen's calls: someone is waiting, and every answer has an
    // offline fallback.
    let citizen = identity.client(
        data_dir,
        Timeouts {
            connect: Duration::from_secs(2),
            request: Duration::from_secs(4),
        },
    )?;
    let sync_client = identity.client(data_dir, Timeouts::default())?;
    let uplink = Uplink::builder(store.clone(), sync_client.clone()).spawn();
    let downlink = Downlink::following(store.clone(), sync_client, identity.anchors()?, data_dir)
        .spawn(Duration::from_secs(60));
    Ok(Link {
        client: Some(citizen),
        uplink: Some(uplink),
        downlink: Some(downlink),
    })
}

/// A configured printer's endpoint and whether to turn on its automatic status.
fn configured_printer(
    device: &kiosk_core::config::PrinterDevice,
) -> Option<(kiosk_escpos::Endpoint, bool)> {
    super::printer_endpoint(device).map(|ep| (ep, device.automatic_status))
}

/// The devices: the simulators' endpoints in simulate mode, else the configuration's.
async fn open_devices(
    config: &Config,
    sim: Option<&SimDevices>,
    take: Option<Duration>,
) -> Devices {
    let devices = &config.devices;
    let (reader_port, dispenser_ep, receipt_ep, scanner_dev) = match sim {
        #[cfg(not(feature = "simulators"))]
        Some(sim) => match *sim {},
        #[cfg(feature = "simulators")]
        Some(sim) => (
            Some(kiosk_idcard::ReaderConfig::serial(
                sim.idcard_link.display().to_string(),
                None,
            )),
            Some((
                kiosk_escpos::Endpoint::Tcp(sim.dispenser_addr.clone()),
                true,
            )),
            Some((kiosk_escpos::Endpoint::Tcp(sim.receipt_addr.clone()), true)),
            Some(ScannerSlot::recipe_for(
                sim.scanner.clone(),
                Arc::new(sim.controls()),
            )),
        ),
        None => (
            devices
                .idcard
                .as_ref()
                .and_then(|d| d.link())
                .map(|link| super::devices::reader_config(&link)),
            devices.dispenser.as_ref().and_then(configured_printer),
            devices.printer.as_ref().and_then(configured_printer),
            devices.scanner.as_ref().map(|s| {
                let load = ConfiguredLoad { feeder: s.feeder };
                ScannerSlot::recipe_for(s.clone(), Arc::new(load))
            }),
        ),
    };
    let (reader_events, reader_health) = match reader_port {
        Some(config) => {
            let (events, health) = spawn_reader(config);
            (Some(events), Some(health))
        }
        None => (None, None),
    };
    let mut dispenser = dispenser_ep.map(|(ep, automatic)| {
        PrinterSlot::new(DeviceKind::Dispenser, ep, take).with_automatic_status(automatic)
    });
    let mut receipt = receipt_ep.map(|(ep, automatic)| {
        PrinterSlot::new(DeviceKind::Printer, ep, None).with_automatic_status(automatic)
    });
    if let Some(d) = &mut dispenser {
        d.refresh().await;
    }
    if let Some(r) = &mut receipt {
        r.refresh().await;
    }
    let scanner = match scanner_dev {
        Some(recipe) => Some(ScannerSlot::start(recipe).await),
        None => None,
    };
    Devices {
        reader_events,
        reader_health,
        dispenser,
        receipt,
        scanner,
    }
}

/// The holder keys kept in the store. A simulated kiosk that was never enrolled has no
/// central to give it keys: it makes one of its own (random, kept sealed like central's),
/// which a later enrolment replaces with central's at the first fetch.
async fn load_holder_keys(store: &Store, local_key: bool) -> Option<HolderKeys> {
    let s = store.clone();
    let kept = match tokio::task::spawn_blocking(move || s.holder_keys()).await {
        Ok(Ok(keys)) => keys.filter(|k| !k.keys.is_empty()),
        Ok(Err(err)) => {
            tracing::warn!(%err, "holder keys unreadable; lookups by card are off until central gives them again");
            None
        }
        Err(_) => None,
    };
    if kept.is_some() || !local_key {
        return kept;
    }
    let keys = HolderKeys {
        keys: vec![HolderKey::generate("local-simulated")],
    };
    let s = store.clone();
    let saved = keys.clone();
    if let Ok(Err(err)) = tokio::task::spawn_blocking(move || s.save_holder_keys(&saved)).await {
        tracing::warn!(%err, "simulated holder key not kept; it lasts until restart");
    }
    Some(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unenrolled_simulated_kiosk_numbers_in_hall_9999_as_its_configured_kiosk() {
        let mut config = Config::simulate().unwrap();
        let numbering = Numbering::simulated(&config).unwrap();
        assert_eq!((numbering.hall.get(), numbering.kiosk.get()), (9999, 1));
        config.kiosk.id = Some("SIM-0042".into());
        assert_eq!(Numbering::simulated(&config).unwrap().kiosk.get(), 42);
        config.kiosk.id = None;
        assert_eq!(Numbering::simulated(&config).unwrap().kiosk.get(), 1);
    }
}
