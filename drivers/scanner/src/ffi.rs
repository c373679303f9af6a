//! Hand-written declarations of the part of the SANE 1.0 C API this crate calls
//! (`/usr/include/sane/sane.h`). Enums are kept as plain integers: a backend may return a
//! status this header does not know, and a Rust enum holding it would be undefined behaviour.

use std::ffi::{c_char, c_int, c_void};

pub type SaneWord = c_int;
pub type SaneStatus = c_int;
pub type SaneHandle = *mut c_void;

pub const STATUS_GOOD: SaneStatus = 0;
pub const STATUS_UNSUPPORTED: SaneStatus = 1;
pub const STATUS_CANCELLED: SaneStatus = 2;
pub const STATUS_DEVICE_BUSY: SaneStatus = 3;
pub const STATUS_INVAL: SaneStatus = 4;
pub const STATUS_EOF: SaneStatus = 5;
pub const STATUS_JAMMED: SaneStatus = 6;
pub const STATUS_NO_DOCS: SaneStatus = 7;
pub const STATUS_COVER_OPEN: SaneStatus = 8;
pub const STATUS_IO_ERROR: SaneStatus = 9;
pub const STATUS_NO_MEM: SaneStatus = 10;
pub const STATUS_ACCESS_DENIED: SaneStatus = 11;

pub const TYPE_BOOL: c_int = 0;
pub const TYPE_INT: c_int = 1;
pub const TYPE_FIXED: c_int = 2;
pub const TYPE_STRING: c_int = 3;

pub const CAP_SOFT_SELECT: c_int = 1 << 0;
pub const CAP_INACTIVE: c_int = 1 << 5;

pub const CONSTRAINT_RANGE: c_int = 1;
pub const CONSTRAINT_WORD_LIST: c_int = 2;
pub const CONSTRAINT_STRING_LIST: c_int = 3;

pub const ACTION_GET_VALUE: c_int = 0;
pub const ACTION_SET_VALUE: c_int = 1;

/// `SANE_FIX`/`SANE_UNFIX`: fixed-point values carry 16 fraction bits.
pub const FIXED_SCALE: f64 = 65536.0;

#[repr(C)]
pub struct SaneDevice {
    pub name: *const c_char,
    pub vendor: *const c_char,
    pub model: *const c_char,
    pub kind: *const c_char,
}

#[repr(C)]
pub struct SaneRange {
    pub min: SaneWord,
    pub max: SaneWord,
    pub quant: SaneWord,
}

/// The C union of `string_list`, `word_list` and `range`; which one is valid is told by
/// `constraint_type`.
#[repr(C)]
pub union SaneConstraint {
    pub string_list: *const *const c_char,
    pub word_list: *const SaneWord,
    pub range: *const SaneRange,
}

#[repr(C)]
pub struct SaneOptionDescriptor {
    pub name: *const c_char,
    pub title: *const c_char,
    pub desc: *const c_char,
    pub value_type: c_int,
    pub unit: c_int,
    pub size: c_int,
    pub cap: c_int,
    pub constraint_type: c_int,
    pub constraint: SaneConstraint,
}

#[repr(C)]
#[derive(Default, Clone, Copy)]
pub struct SaneParameters {
    pub format: c_int,
    pub last_frame: SaneWord,
    pub bytes_per_line: c_int,
    pub pixels_per_line: c_int,
    pub lines: c_int,
    pub depth: c_int,
}

/// `SANE_Auth_Callback`; this crate passes none (no network backends with passwords).
pub type SaneAuthCallback = Option<
    unsafe extern "C" fn(resource: *const c_char, username: *mut c_char, password: *mut c_char),
>;

#[link(name = "sane")]
unsafe extern "C" {
    pub fn sane_init(version_code: *mut SaneWord, authorize: SaneAuthCallback) -> SaneStatus;
    pub fn sane_exit();
    pub fn sane_get_devices(
        device_list: *mut *mut *const SaneDevice,
        local_only: SaneWord,
    ) -> SaneStatus;
    pub fn sane_open(name: *const c_char, handle: *mut SaneHandle) -> SaneStatus;
    pub fn sane_close(handle: SaneHandle);
    pub fn sane_get_option_descriptor(
        handle: SaneHandle,
        option: c_int,
    ) -> *const SaneOptionDescriptor;
    pub fn sane_control_option(
        handle: SaneHandle,
        option: c_int,
        action: c_int,
        value: *mut c_void,
        info: *mut SaneWord,
    ) -> SaneStatus;
    pub fn sane_get_parameters(handle: SaneHandle, params: *mut SaneParameters) -> SaneStatus;
    pub fn sane_start(handle: SaneHandle) -> SaneStatus;
    pub fn sane_read(
        handle: SaneHandle,
        data: *mut u8,
        max_length: SaneWord,
        length: *mut SaneWord,
    ) -> SaneStatus;
    pub fn sane_cancel(handle: SaneHandle);
    pub fn sane_strstatus(status: SaneStatus) -> *const c_char;
}
