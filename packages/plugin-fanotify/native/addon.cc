// Entry point of the fanotify addon: the FanotifyGroup class, handle helpers and the kernel constants the
// TypeScript side needs (taken from the headers the addon was built against, so they cannot drift).
#include <napi.h>

#include "FanotifyGroup.h"
#include "compat.h"
#include "handles.h"

#include <fcntl.h>

namespace {

Napi::Object Constants(Napi::Env env) {
  Napi::Object c = Napi::Object::New(env);
  auto set = [&](const char* name, double value) { c.Set(name, Napi::Number::New(env, value)); };
  set("FAN_CLASS_NOTIF", FAN_CLASS_NOTIF);
  set("FAN_UNLIMITED_QUEUE", FAN_UNLIMITED_QUEUE);
  set("FAN_REPORT_FID", FAN_REPORT_FID);
  set("FAN_REPORT_DIR_FID", FAN_REPORT_DIR_FID);
  set("FAN_REPORT_NAME", FAN_REPORT_NAME);
  set("FAN_REPORT_TARGET_FID", FAN_REPORT_TARGET_FID);
  set("FAN_REPORT_FD_ERROR", FAN_REPORT_FD_ERROR);
  set("FAN_MARK_ADD", FAN_MARK_ADD);
  set("FAN_MARK_REMOVE", FAN_MARK_REMOVE);
  set("FAN_MARK_MOUNT", FAN_MARK_MOUNT);
  set("FAN_MARK_FILESYSTEM", FAN_MARK_FILESYSTEM);
  set("FAN_MODIFY", FAN_MODIFY);
  set("FAN_CLOSE_WRITE", FAN_CLOSE_WRITE);
  set("FAN_ATTRIB", FAN_ATTRIB);
  set("FAN_MOVED_FROM", FAN_MOVED_FROM);
  set("FAN_MOVED_TO", FAN_MOVED_TO);
  set("FAN_CREATE", FAN_CREATE);
  set("FAN_DELETE", FAN_DELETE);
  set("FAN_DELETE_SELF", FAN_DELETE_SELF);
  set("FAN_MOVE_SELF", FAN_MOVE_SELF);
  set("FAN_RENAME", FAN_RENAME);
  set("FAN_Q_OVERFLOW", FAN_Q_OVERFLOW);
  set("FAN_ONDIR", FAN_ONDIR);
  set("O_RDONLY", O_RDONLY);
  set("O_LARGEFILE", O_LARGEFILE);
  set("O_CLOEXEC", O_CLOEXEC);
  set("O_NOATIME", O_NOATIME);
  return c;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("FanotifyGroup", rtb::FanotifyGroup::Define(env));
  exports.Set("resolveHandle", Napi::Function::New(env, rtb::ResolveHandle, "resolveHandle"));
  exports.Set("fsidOf", Napi::Function::New(env, rtb::FsidOf, "fsidOf"));
  exports.Set("handleKeyOf", Napi::Function::New(env, rtb::HandleKeyOf, "handleKeyOf"));
  exports.Set("constants", Constants(env));
  return exports;
}

}  // namespace

NODE_API_MODULE(fanotify, Init)
