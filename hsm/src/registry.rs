//! The process-wide registry of loaded PKCS#11 modules.
//!
//! Apart from sessions because it is global state with its own rules: a
//! module is initialised once per process and finalised when its last user
//! goes, whichever session, context or thread that user belongs to.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};

use crate::HsmError;
use crate::error::rv_of;

/// Every module this process has loaded and initialised, by canonical path,
/// with how many [`Module`] handles use it.
///
/// `C_Initialize` may be called once per process per module (a second call
/// fails with `CKR_CRYPTOKI_ALREADY_INITIALIZED`), and a module reads its
/// configuration (`SOFTHSM2_CONF`) then. So two sessions on one module must
/// share one initialisation, and the last one to go finalises it; the count
/// is kept under the same lock as the map so a module is never finalised
/// while another thread is starting to use it.
static MODULES: Mutex<BTreeMap<PathBuf, Loaded>> = Mutex::new(BTreeMap::new());

struct Loaded {
    pkcs11: Pkcs11,
    users: usize,
    /// False when something else in the process had initialised the module
    /// before us; then finalising it is that code's business.
    initialized_here: bool,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section leaves its data consistent before anything
    // that can panic, so a poisoned lock's data is still good.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A handle on a loaded, initialised PKCS#11 module.
pub(crate) struct Module {
    pub(crate) path: PathBuf,
    pub(crate) pkcs11: Pkcs11,
}

impl Module {
    pub(crate) fn acquire(path: &Path) -> Result<Self, HsmError> {
        let canonical = match std::fs::canonicalize(path) {
            Ok(p) => p,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(HsmError::ModuleNotFound {
                    path: path.to_path_buf(),
                });
            }
            Err(e) => {
                return Err(HsmError::ModuleLoad {
                    path: path.to_path_buf(),
                    why: e.to_string(),
                });
            }
        };
        let mut modules = lock(&MODULES);
        if let Some(loaded) = modules.get_mut(&canonical) {
            loaded.users += 1;
            return Ok(Self {
                path: canonical,
                pkcs11: loaded.pkcs11.clone(),
            });
        }
        let load_error = |why: String| HsmError::ModuleLoad {
            path: path.to_path_buf(),
            why,
        };
        let pkcs11 = Pkcs11::new(&canonical).map_err(|e| match e {
            CkError::LibraryLoading(e) => load_error(e.to_string()),
            CkError::MissingSymbol(_) => {
                load_error("not a PKCS#11 module (no C_GetFunctionList)".to_owned())
            }
            other => load_error(other.to_string()),
        })?;
        let initialized_here =
            match pkcs11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
                Ok(()) => true,
                Err(e) if rv_of(&e) == Some(RvError::CryptokiAlreadyInitialized) => false,
                Err(e) => return Err(load_error(HsmError::from(e).to_string())),
            };
        modules.insert(
            canonical.clone(),
            Loaded {
                pkcs11: pkcs11.clone(),
                users: 1,
                initialized_here,
            },
        );
        Ok(Self {
            path: canonical,
            pkcs11,
        })
    }
}

impl Drop for Module {
    fn drop(&mut self) {
        let mut modules = lock(&MODULES);
        let Some(loaded) = modules.get_mut(&self.path) else {
            return;
        };
        loaded.users -= 1;
        if loaded.users == 0
            && let Some(loaded) = modules.remove(&self.path)
            && loaded.initialized_here
        {
            // Nothing useful can be done about a failing C_Finalize on the
            // way out; the process is done with the module either way.
            let _ = loaded.pkcs11.finalize();
        }
    }
}
