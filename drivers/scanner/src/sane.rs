//! Safe, blocking use of libsane. Everything here runs on the scanner's own thread.
//!
//! libsane is process-global: `sane_init` and `sane_exit` must not overlap, and handles die
//! with `sane_exit`. [`Session`] therefore holds a process-wide lock for its whole life, and
//! [`Device`] borrows the session so it cannot outlive it.

use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::ptr;
use std::sync::{Mutex, MutexGuard};

use crate::error::ScanError;
use crate::ffi;
use crate::frame::{FrameFormat, FrameParameters};
use crate::settings::{ColorMode, ScanSettings, Source};

static SESSION_LOCK: Mutex<()> = Mutex::new(());

/// A device SANE reports.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DeviceInfo {
    /// The name to open it by, e.g. `fujitsu:fi-7160:1234` or `test:0`.
    pub name: String,
    /// Maker.
    pub vendor: String,
    /// Model.
    pub model: String,
    /// Kind, e.g. "flatbed scanner", "sheetfed scanner".
    pub kind: String,
}

/// An initialised libsane. Only one exists in the process at a time; a second waits.
pub struct Session {
    _lock: MutexGuard<'static, ()>,
}

impl Session {
    /// Initialises libsane, waiting while another session in this process is alive.
    pub fn init() -> Result<Self, ScanError> {
        // A panicked previous holder left nothing half-done that matters: sane_exit ran in Drop.
        let lock = SESSION_LOCK
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut version: ffi::SaneWord = 0;
        // SAFETY: no other session is alive (we hold the lock); no auth callback.
        let status = unsafe { ffi::sane_init(&mut version, None) };
        check("sane", "sane_init", status)?;
        tracing::debug!(
            sane_version = format!(
                "{}.{}.{}",
                (version >> 24) & 0xff,
                (version >> 16) & 0xff,
                version & 0xffff
            ),
            "libsane initialised"
        );
        Ok(Session { _lock: lock })
    }

    /// The devices SANE can see now (local and network backends alike).
    pub fn devices(&self) -> Result<Vec<DeviceInfo>, ScanError> {
        let mut list: *mut *const ffi::SaneDevice = ptr::null_mut();
        // SAFETY: the session is initialised; SANE owns the returned list until the next call.
        let status = unsafe { ffi::sane_get_devices(&mut list, 0) };
        check("sane", "sane_get_devices", status)?;
        let mut devices = Vec::new();
        let mut i = 0;
        while !list.is_null() {
            // SAFETY: the list is NULL-terminated and valid until the next sane_get_devices.
            let entry = unsafe { *list.add(i) };
            if entry.is_null() {
                break;
            }
            // SAFETY: entry points to a SANE_Device with C strings (or NULLs).
            let d = unsafe { &*entry };
            devices.push(DeviceInfo {
                name: c_string(d.name),
                vendor: c_string(d.vendor),
                model: c_string(d.model),
                kind: c_string(d.kind),
            });
            i += 1;
        }
        Ok(devices)
    }

    /// Opens a device by name.
    pub fn open(&self, name: &str) -> Result<Device<'_>, ScanError> {
        let c_name = CString::new(name).map_err(|_| ScanError::NoSuchDevice {
            device: name.escape_debug().to_string(),
            available: "names never contain NUL".into(),
        })?;
        let mut handle: ffi::SaneHandle = ptr::null_mut();
        // SAFETY: valid C string; handle is written on success.
        let status = unsafe { ffi::sane_open(c_name.as_ptr(), &mut handle) };
        if status == ffi::STATUS_INVAL {
            let available = self
                .devices()
                .map(|ds| {
                    ds.into_iter()
                        .map(|d| d.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default();
            let available = if available.is_empty() {
                "none".to_string()
            } else {
                available
            };
            return Err(ScanError::NoSuchDevice {
                device: name.to_string(),
                available,
            });
        }
        check(name, "sane_open", status)?;
        Ok(Device {
            _session: self,
            handle,
            name: name.to_string(),
        })
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // SAFETY: every Device borrowed this session and is gone; the lock is still held.
        unsafe { ffi::sane_exit() };
    }
}

/// An open scanner. Closed on drop.
pub struct Device<'s> {
    _session: &'s Session,
    handle: ffi::SaneHandle,
    name: String,
}

/// What `sane_start` says about the next page.
pub enum PageStart {
    /// A page is coming; read it with [`Device::read`].
    Started(FrameParameters),
    /// The feeder has no (more) paper.
    NoDocuments,
}

/// An option as the backend describes it.
struct OptionDesc {
    index: c_int,
    value_type: c_int,
    size: usize,
    cap: c_int,
    constraint: Constraint,
}

enum Constraint {
    None,
    Range { min: i32, max: i32 },
    Words(Vec<i32>),
    Strings(Vec<String>),
}

impl Device<'_> {
    /// The SANE name of the device.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Applies source, mode, resolution and scan area. Returns the resolution the device
    /// actually uses.
    pub fn apply(&mut self, settings: &ScanSettings) -> Result<f32, ScanError> {
        self.apply_source(settings.source)?;
        self.apply_mode(settings.mode)?;
        if let Some((w, h)) = settings.area_mm {
            // Not every backend has a settable area (sheet-fed ones detect the page).
            for (opt, v) in [("tl-x", 0.0), ("tl-y", 0.0), ("br-x", w), ("br-y", h)] {
                if let Some(desc) = self.find(opt)? {
                    self.set_number(&desc, opt, v)?;
                }
            }
        }
        let desc = self
            .find("resolution")?
            .ok_or_else(|| ScanError::Unsupported {
                device: self.name.clone(),
                what: "has no resolution option".into(),
            })?;
        self.set_number(&desc, "resolution", settings.dpi as f64)?;
        self.get_number(&desc).map(|dpi| dpi as f32)
    }

    /// Extra backend options by name, for tests and for devices that need a quirk set
    /// (e.g. the test backend's `test-picture`). Values are parsed by the option's type.
    pub fn set_option(&mut self, option: &str, value: &str) -> Result<(), ScanError> {
        let desc = self.find(option)?.ok_or_else(|| ScanError::Unsupported {
            device: self.name.clone(),
            what: format!("has no option {option:?}"),
        })?;
        match desc.value_type {
            ffi::TYPE_STRING => self.set_string(&desc, option, value),
            ffi::TYPE_BOOL => {
                let b = matches!(value, "true" | "yes" | "1");
                self.control_set(
                    &desc,
                    option,
                    &mut (b as ffi::SaneWord) as *mut _ as *mut c_void,
                )
            }
            _ => {
                let v: f64 = value.parse().map_err(|_| ScanError::Unsupported {
                    device: self.name.clone(),
                    what: format!("option {option:?} needs a number, not {value:?}"),
                })?;
                self.set_number(&desc, option, v)
            }
        }
    }

    /// Starts the next page (the next sheet on a feeder).
    pub fn start(&mut self) -> Result<PageStart, ScanError> {
        // SAFETY: open handle.
        let status = unsafe { ffi::sane_start(self.handle) };
        if status == ffi::STATUS_NO_DOCS {
            return Ok(PageStart::NoDocuments);
        }
        check(&self.name, "sane_start", status)?;
        self.parameters().map(PageStart::Started)
    }

    /// Parameters of the frame being read (valid between `start` and the frame's EOF).
    pub fn parameters(&mut self) -> Result<FrameParameters, ScanError> {
        let mut p = ffi::SaneParameters::default();
        // SAFETY: open handle, p is a valid out-pointer.
        let status = unsafe { ffi::sane_get_parameters(self.handle, &mut p) };
        check(&self.name, "sane_get_parameters", status)?;
        let format = FrameFormat::from_raw(p.format).ok_or_else(|| ScanError::Unsupported {
            device: self.name.clone(),
            what: format!(
                "sends frames of format {} which SANE 1.0 does not define",
                p.format
            ),
        })?;
        let bad = |what: &str| ScanError::Unsupported {
            device: self.name.clone(),
            what: what.into(),
        };
        Ok(FrameParameters {
            format,
            last_frame: p.last_frame != 0,
            bytes_per_line: usize::try_from(p.bytes_per_line)
                .map_err(|_| bad("reports negative bytes per line"))?,
            pixels_per_line: usize::try_from(p.pixels_per_line)
                .map_err(|_| bad("reports negative pixels per line"))?,
            lines: usize::try_from(p.lines).ok(),
            depth: u8::try_from(p.depth).map_err(|_| bad("reports an impossible depth"))?,
        })
    }

    /// Reads the next chunk of the current frame into `buf`; `Ok(0)` at the end of the frame.
    pub fn read(&mut self, buf: &mut [u8]) -> Result<usize, ScanError> {
        let max = ffi::SaneWord::try_from(buf.len()).unwrap_or(ffi::SaneWord::MAX);
        let mut len: ffi::SaneWord = 0;
        // SAFETY: buf is valid for max bytes; len is an out-pointer.
        let status = unsafe { ffi::sane_read(self.handle, buf.as_mut_ptr(), max, &mut len) };
        if status == ffi::STATUS_EOF {
            return Ok(0);
        }
        check(&self.name, "sane_read", status)?;
        // A conforming backend never reports more than max; clamp rather than trust it.
        Ok(usize::try_from(len).unwrap_or(0).min(buf.len()))
    }

    /// Ends the scan (or the batch of feeder pages).
    pub fn cancel(&mut self) {
        // SAFETY: open handle; cancel is allowed at any time.
        unsafe { ffi::sane_cancel(self.handle) };
    }

    fn apply_source(&mut self, source: Source) -> Result<(), ScanError> {
        let Some(desc) = self.find("source")? else {
            return match source {
                // Plain flatbeds have no source option at all.
                Source::Flatbed => Ok(()),
                Source::Feeder => Err(ScanError::Unsupported {
                    device: self.name.clone(),
                    what: "has no document feeder (no source option); use --source flatbed".into(),
                }),
            };
        };
        let Constraint::Strings(choices) = &desc.constraint else {
            return Ok(());
        };
        let pick = choices
            .iter()
            .find(|c| source_matches(source, c))
            .cloned()
            .ok_or_else(|| ScanError::Unsupported {
                device: self.name.clone(),
                what: format!("has no {source} source (it offers: {})", choices.join(", ")),
            })?;
        self.set_string(&desc, "source", &pick)
    }

    fn apply_mode(&mut self, mode: ColorMode) -> Result<(), ScanError> {
        let Some(desc) = self.find("mode")? else {
            return Ok(());
        };
        let Constraint::Strings(choices) = &desc.constraint else {
            return Ok(());
        };
        let wanted: &[&str] = match mode {
            ColorMode::Color => &["color", "colour", "24bit color"],
            ColorMode::Gray => &["gray", "grey", "grayscale", "greyscale", "8bit gray"],
        };
        let pick = choices
            .iter()
            .find(|c| wanted.contains(&c.to_ascii_lowercase().as_str()))
            .cloned()
            .ok_or_else(|| ScanError::Unsupported {
                device: self.name.clone(),
                what: format!("has no {mode} mode (it offers: {})", choices.join(", ")),
            })?;
        self.set_string(&desc, "mode", &pick)
    }

    fn find(&self, name: &str) -> Result<Option<OptionDesc>, ScanError> {
        // Option 0 is the option count, always an int.
        let mut count: ffi::SaneWord = 0;
        // SAFETY: option 0 is an SANE_Word by the standard.
        let status = unsafe {
            ffi::sane_control_option(
                self.handle,
                0,
                ffi::ACTION_GET_VALUE,
                &mut count as *mut _ as *mut c_void,
                ptr::null_mut(),
            )
        };
        check(&self.name, "sane_control_option(count)", status)?;
        for index in 1..count {
            // SAFETY: index < count; SANE owns the descriptor while the handle is open.
            let d = unsafe { ffi::sane_get_option_descriptor(self.handle, index) };
            if d.is_null() {
                continue;
            }
            // SAFETY: non-null descriptor from the backend.
            let d = unsafe { &*d };
            if d.name.is_null() || c_string(d.name) != name {
                continue;
            }
            if d.cap & ffi::CAP_INACTIVE != 0 || d.cap & ffi::CAP_SOFT_SELECT == 0 {
                return Ok(None);
            }
            // SAFETY: the union member read is the one constraint_type names; lists are
            // terminated (strings by NULL, words by their leading count).
            let constraint = unsafe {
                match d.constraint_type {
                    ffi::CONSTRAINT_RANGE if !d.constraint.range.is_null() => {
                        let r = &*d.constraint.range;
                        Constraint::Range {
                            min: r.min,
                            max: r.max,
                        }
                    }
                    ffi::CONSTRAINT_WORD_LIST if !d.constraint.word_list.is_null() => {
                        let n = usize::try_from(*d.constraint.word_list).unwrap_or(0);
                        Constraint::Words((1..=n).map(|i| *d.constraint.word_list.add(i)).collect())
                    }
                    ffi::CONSTRAINT_STRING_LIST if !d.constraint.string_list.is_null() => {
                        let mut v = Vec::new();
                        let mut p = d.constraint.string_list;
                        while !(*p).is_null() {
                            v.push(c_string(*p));
                            p = p.add(1);
                        }
                        Constraint::Strings(v)
                    }
                    _ => Constraint::None,
                }
            };
            return Ok(Some(OptionDesc {
                index,
                value_type: d.value_type,
                size: usize::try_from(d.size).unwrap_or(0),
                cap: d.cap,
                constraint,
            }));
        }
        Ok(None)
    }

    fn set_string(
        &mut self,
        desc: &OptionDesc,
        option: &str,
        value: &str,
    ) -> Result<(), ScanError> {
        if let Constraint::Strings(choices) = &desc.constraint
            && !choices.iter().any(|c| c == value)
        {
            return Err(ScanError::Unsupported {
                device: self.name.clone(),
                what: format!(
                    "option {option} cannot be {value:?} (it offers: {})",
                    choices.join(", ")
                ),
            });
        }
        // The backend copies up to `size` bytes, NUL included.
        let mut buf = vec![0u8; desc.size.max(value.len() + 1)];
        buf[..value.len()].copy_from_slice(value.as_bytes());
        self.control_set(desc, option, buf.as_mut_ptr() as *mut c_void)
    }

    fn set_number(&mut self, desc: &OptionDesc, option: &str, value: f64) -> Result<(), ScanError> {
        let to_word = |v: f64| -> ffi::SaneWord {
            if desc.value_type == ffi::TYPE_FIXED {
                (v * ffi::FIXED_SCALE).round() as ffi::SaneWord
            } else {
                v.round() as ffi::SaneWord
            }
        };
        let mut word = to_word(value);
        // Snap to what the device allows, so 300 dpi on a 75/150/600 device becomes 150
        // or 600 (nearest) rather than an error.
        match &desc.constraint {
            Constraint::Range { min, max } => word = word.clamp(*min, *max),
            Constraint::Words(list) => {
                if let Some(nearest) = list
                    .iter()
                    .min_by_key(|w| (i64::from(**w) - i64::from(word)).abs())
                {
                    word = *nearest;
                }
            }
            Constraint::None | Constraint::Strings(_) => {}
        }
        if !matches!(desc.value_type, ffi::TYPE_INT | ffi::TYPE_FIXED) {
            return Err(ScanError::Unsupported {
                device: self.name.clone(),
                what: format!("option {option} is not numeric (type {})", desc.value_type),
            });
        }
        // Some backends declare options as arrays (e.g. per-channel resolution); size them.
        let mut words = vec![word; (desc.size / size_of::<ffi::SaneWord>()).max(1)];
        self.control_set(desc, option, words.as_mut_ptr() as *mut c_void)
    }

    fn get_number(&mut self, desc: &OptionDesc) -> Result<f64, ScanError> {
        let mut words = vec![0 as ffi::SaneWord; (desc.size / size_of::<ffi::SaneWord>()).max(1)];
        // SAFETY: buffer sized from the descriptor.
        let status = unsafe {
            ffi::sane_control_option(
                self.handle,
                desc.index,
                ffi::ACTION_GET_VALUE,
                words.as_mut_ptr() as *mut c_void,
                ptr::null_mut(),
            )
        };
        check(&self.name, "sane_control_option(get)", status)?;
        let w = words[0];
        Ok(if desc.value_type == ffi::TYPE_FIXED {
            f64::from(w) / ffi::FIXED_SCALE
        } else {
            f64::from(w)
        })
    }

    fn control_set(
        &mut self,
        desc: &OptionDesc,
        option: &str,
        value: *mut c_void,
    ) -> Result<(), ScanError> {
        debug_assert!(
            desc.cap & ffi::CAP_SOFT_SELECT != 0,
            "only settable options reach control_set"
        );
        let mut info: ffi::SaneWord = 0;
        // SAFETY: value points to a buffer of at least desc.size bytes of the option's type.
        let status = unsafe {
            ffi::sane_control_option(
                self.handle,
                desc.index,
                ffi::ACTION_SET_VALUE,
                value,
                &mut info,
            )
        };
        if status == ffi::STATUS_INVAL {
            return Err(ScanError::Unsupported {
                device: self.name.clone(),
                what: format!("refuses the value for option {option}"),
            });
        }
        check(&self.name, "sane_control_option(set)", status)
    }
}

impl Drop for Device<'_> {
    fn drop(&mut self) {
        // SAFETY: open handle, closed exactly once; the session is still alive (borrowed).
        unsafe {
            ffi::sane_cancel(self.handle);
            ffi::sane_close(self.handle);
        }
    }
}

fn source_matches(source: Source, choice: &str) -> bool {
    let c = choice.to_ascii_lowercase();
    match source {
        Source::Flatbed => c.contains("flatbed") || c == "normal" || c.contains("document table"),
        // Simplex feeder first: a duplex choice also matches "adf" but doubles every sheet.
        Source::Feeder => {
            (c.contains("adf") || c.contains("feeder"))
                && !c.contains("duplex")
                && !c.contains("back")
        }
    }
}

/// Maps a SANE status to this crate's errors; `Ok` for `SANE_STATUS_GOOD`.
pub(crate) fn check(
    device: &str,
    call: &'static str,
    status: ffi::SaneStatus,
) -> Result<(), ScanError> {
    let device = device.to_string();
    Err(match status {
        ffi::STATUS_GOOD => return Ok(()),
        ffi::STATUS_JAMMED => ScanError::Jammed { device },
        ffi::STATUS_NO_DOCS => ScanError::FeederEmpty { device },
        ffi::STATUS_COVER_OPEN => ScanError::CoverOpen { device },
        ffi::STATUS_DEVICE_BUSY => ScanError::DeviceBusy { device },
        ffi::STATUS_ACCESS_DENIED => ScanError::AccessDenied { device },
        ffi::STATUS_IO_ERROR => ScanError::DeviceGone {
            device,
            call,
            status: status_text(status),
        },
        _ => ScanError::Sane {
            device,
            call,
            status: status_text(status),
        },
    })
}

fn status_text(status: ffi::SaneStatus) -> String {
    // SAFETY: sane_strstatus returns a static string for any value.
    let s = unsafe { ffi::sane_strstatus(status) };
    let text = c_string(s);
    let name = match status {
        ffi::STATUS_UNSUPPORTED => "SANE_STATUS_UNSUPPORTED",
        ffi::STATUS_CANCELLED => "SANE_STATUS_CANCELLED",
        ffi::STATUS_INVAL => "SANE_STATUS_INVAL",
        ffi::STATUS_IO_ERROR => "SANE_STATUS_IO_ERROR",
        ffi::STATUS_NO_MEM => "SANE_STATUS_NO_MEM",
        _ => return format!("status {status}: {text}"),
    };
    format!("{name}: {text}")
}

fn c_string(p: *const c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: SANE hands out NUL-terminated strings.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}
