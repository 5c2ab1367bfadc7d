/*
 * pyfloppy's file-system calls relative to an open directory (openat, renameat, linkat, unlinkat, mkdirat),
 * which Node does not expose. src/fsops acts on a file as "/proc/self/fd/N/name": the name inside a verified
 * directory. Through procfs each such call costs a lookup of /proc/self/fd/N first; these calls take N and
 * the name instead. Each returns 0 (or a descriptor) on success and -errno on failure: the JavaScript side
 * (src/fsops/at.ts) turns that into the same error Node's fs would throw.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <node_api.h>
#include <uv.h>

#define NAME_MAX_BYTES (PATH_MAX + 1)

/* A name argument: a string (UTF-8) or a Buffer (any bytes), copied NUL-terminated; 0 when too long. */
static int name_arg(napi_env env, napi_value v, char *out) {
  bool is_buffer = false;
  napi_is_buffer(env, v, &is_buffer);
  if (is_buffer) {
    void *data;
    size_t len;
    if (napi_get_buffer_info(env, v, &data, &len) != napi_ok || len >= NAME_MAX_BYTES) return 0;
    if (memchr(data, 0, len) != NULL) return 0;
    memcpy(out, data, len);
    out[len] = 0;
    return 1;
  }
  size_t len;
  if (napi_get_value_string_utf8(env, v, out, NAME_MAX_BYTES, &len) != napi_ok) return 0;
  return len < NAME_MAX_BYTES - 1 && strlen(out) == len;
}

static napi_value result(napi_env env, int r) {
  napi_value v;
  napi_create_int32(env, r < 0 ? -errno : r, &v);
  return v;
}

static napi_value bad(napi_env env) {
  napi_throw_type_error(env, NULL, "pyfloppy native: bad arguments");
  return NULL;
}

/* openDir(dirfd, name): O_RDONLY|O_DIRECTORY|O_NOFOLLOW|O_CLOEXEC relative to dirfd. */
static napi_value open_dir(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int32_t fd;
  char name[NAME_MAX_BYTES];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 2 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || !name_arg(env, argv[1], name))
    return bad(env);
  return result(env, openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
}

/* rename(fd1, name1, fd2, name2) and link(fd1, name1, fd2, name2): never following a symlink. */
static napi_value two_names(napi_env env, napi_callback_info info, int is_link) {
  size_t argc = 4;
  napi_value argv[4];
  int32_t fd1, fd2;
  char a[NAME_MAX_BYTES], b[NAME_MAX_BYTES]; /* never static: worker threads call at once */
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 4 || napi_get_value_int32(env, argv[0], &fd1) != napi_ok || !name_arg(env, argv[1], a) ||
      napi_get_value_int32(env, argv[2], &fd2) != napi_ok || !name_arg(env, argv[3], b))
    return bad(env);
  return result(env, is_link ? linkat(fd1, a, fd2, b, 0) : renameat(fd1, a, fd2, b));
}

static napi_value rename_at(napi_env env, napi_callback_info info) { return two_names(env, info, 0); }
static napi_value link_at(napi_env env, napi_callback_info info) { return two_names(env, info, 1); }

/* unlink(dirfd, name, isDir): unlinkat, with AT_REMOVEDIR when isDir. */
static napi_value unlink_at(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  int32_t fd;
  bool dir = false;
  char name[NAME_MAX_BYTES];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 3 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || !name_arg(env, argv[1], name) ||
      napi_get_value_bool(env, argv[2], &dir) != napi_ok)
    return bad(env);
  return result(env, unlinkat(fd, name, dir ? AT_REMOVEDIR : 0));
}

/* mkdir(dirfd, name, mode). */
static napi_value mkdir_at(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  int32_t fd, mode;
  char name[NAME_MAX_BYTES];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 3 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || !name_arg(env, argv[1], name) ||
      napi_get_value_int32(env, argv[2], &mode) != napi_ok)
    return bad(env);
  return result(env, mkdirat(fd, name, (mode_t)mode));
}

/* openNew(dirfd, name, mode): a new file, O_WRONLY|O_CREAT|O_EXCL|O_NOFOLLOW|O_CLOEXEC (umask applies). */
static napi_value open_new(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  int32_t fd, mode;
  char name[NAME_MAX_BYTES];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 3 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || !name_arg(env, argv[1], name) ||
      napi_get_value_int32(env, argv[2], &mode) != napi_ok)
    return bad(env);
  return result(env, openat(fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, (mode_t)mode));
}

/* close(fd): for the descriptors these calls opened. Why not fs.closeSync: in a worker thread Node warns
 * about closing a descriptor its fs did not open. */
static napi_value close_fd(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1 || napi_get_value_int32(env, argv[0], &fd) != napi_ok) return bad(env);
  return result(env, close(fd));
}

/* strerror(errno): the message Node's own errors carry (libuv's, which Node exports: "file already exists"). */
static napi_value str_error(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], v;
  int32_t e;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1 || napi_get_value_int32(env, argv[0], &e) != napi_ok) return bad(env);
  napi_create_string_utf8(env, uv_strerror(-e), NAPI_AUTO_LENGTH, &v);
  return v;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor p[] = {
      {"openDir", NULL, open_dir, NULL, NULL, NULL, napi_enumerable, NULL},
      {"rename", NULL, rename_at, NULL, NULL, NULL, napi_enumerable, NULL},
      {"link", NULL, link_at, NULL, NULL, NULL, napi_enumerable, NULL},
      {"unlink", NULL, unlink_at, NULL, NULL, NULL, napi_enumerable, NULL},
      {"mkdir", NULL, mkdir_at, NULL, NULL, NULL, napi_enumerable, NULL},
      {"openNew", NULL, open_new, NULL, NULL, NULL, napi_enumerable, NULL},
      {"close", NULL, close_fd, NULL, NULL, NULL, napi_enumerable, NULL},
      {"strerror", NULL, str_error, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof p / sizeof p[0], p);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
