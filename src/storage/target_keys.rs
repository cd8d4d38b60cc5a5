//! A storage target of a list under its own name: its messages name the target's answers.

use std::ops::Range;

use super::{ObjectMeta, Op, Storage, StorageError};
use crate::transport::Reader;

/// One target of a list, as its answers name it: every message that names an answer of its type
/// (`storage.s3.secret_key`) names the target's own (`storage.s3main.secret_key`), the key to set.
pub struct Named {
    inner: Box<dyn Storage>,
    /// `storage.TYPE.` and `storage.NAME.`.
    from: String,
    to: String,
}

/// `inner`, the target `name` of type `kind`, its messages naming the target's own answers.
pub fn named(name: &str, kind: &str, inner: Box<dyn Storage>) -> Box<dyn Storage> {
    Box::new(Named {
        inner,
        from: format!("storage.{kind}."),
        to: format!("storage.{name}."),
    })
}

impl Named {
    fn text(&self, s: &str) -> String {
        s.replace(&self.from, &self.to)
    }

    fn fix<T>(&self, r: Result<T, StorageError>) -> Result<T, StorageError> {
        r.map_err(|mut e| {
            e.message = self.text(&e.message);
            e
        })
    }
}

impl Storage for Named {
    fn describe(&self) -> String {
        self.inner.describe()
    }

    fn list<'a>(&'a self, prefix: &'a str) -> Op<'a, Vec<ObjectMeta>> {
        Box::pin(async move { self.fix(self.inner.list(prefix).await) })
    }

    fn stat<'a>(&'a self, name: &'a str) -> Op<'a, ObjectMeta> {
        Box::pin(async move { self.fix(self.inner.stat(name).await) })
    }

    fn get<'a>(&'a self, name: &'a str, range: Option<Range<u64>>) -> Op<'a, Reader> {
        Box::pin(async move { self.fix(self.inner.get(name, range).await) })
    }

    fn put<'a>(&'a self, name: &'a str, data: Reader) -> Op<'a, u64> {
        Box::pin(async move { self.fix(self.inner.put(name, data).await) })
    }

    fn delete<'a>(&'a self, name: &'a str) -> Op<'a, ()> {
        Box::pin(async move { self.fix(self.inner.delete(name).await) })
    }

    fn retries(&self, object: Option<&str>) -> Vec<String> {
        self.inner
            .retries(object)
            .iter()
            .map(|n| self.text(n))
            .collect()
    }

    fn free_space(&self) -> Option<u64> {
        self.inner.free_space()
    }
}
