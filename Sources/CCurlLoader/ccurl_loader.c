#define _GNU_SOURCE
#include "ccurl_loader.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int loaded = 0;
static char load_error[512];

static CURLcode (*p_global_init)(long);
static CURL *(*p_easy_init)(void);
static void (*p_easy_cleanup)(CURL *);
static void (*p_easy_reset)(CURL *);
static CURLcode (*p_easy_perform)(CURL *);
static const char *(*p_easy_strerror)(CURLcode);
static char *(*p_version)(void);
static struct curl_slist *(*p_slist_append)(struct curl_slist *, const char *);
static void (*p_slist_free_all)(struct curl_slist *);
static CURLcode (*p_easy_setopt)(CURL *, CURLoption, ...);
static CURLcode (*p_easy_getinfo)(CURL *, CURLINFO, ...);

#define RESOLVE(var, name) \
    do { *(void **)(&var) = dlsym(lib, name); \
         if (!var) { snprintf(load_error, sizeof load_error, "libcurl.so.4 has no %s", name); return; } } while (0)

static void load_once(void) {
    void *lib = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        snprintf(load_error, sizeof load_error, "cannot load libcurl.so.4 (install libcurl4): %s", dlerror());
        return;
    }
    RESOLVE(p_global_init, "curl_global_init");
    RESOLVE(p_easy_init, "curl_easy_init");
    RESOLVE(p_easy_cleanup, "curl_easy_cleanup");
    RESOLVE(p_easy_reset, "curl_easy_reset");
    RESOLVE(p_easy_perform, "curl_easy_perform");
    RESOLVE(p_easy_strerror, "curl_easy_strerror");
    RESOLVE(p_version, "curl_version");
    RESOLVE(p_slist_append, "curl_slist_append");
    RESOLVE(p_slist_free_all, "curl_slist_free_all");
    RESOLVE(p_easy_setopt, "curl_easy_setopt");
    RESOLVE(p_easy_getinfo, "curl_easy_getinfo");
    loaded = 1;
}

int steady_curl_load(void) {
    pthread_once(&once, load_once);
    return loaded;
}

const char *steady_curl_load_error(void) { return load_error; }

CURLcode steady_curl_global_init(long flags) { return steady_curl_load() ? p_global_init(flags) : CURLE_FAILED_INIT; }
CURL *steady_curl_easy_init(void) { return steady_curl_load() ? p_easy_init() : NULL; }
void steady_curl_easy_cleanup(CURL *h) { if (loaded) p_easy_cleanup(h); }
void steady_curl_easy_reset(CURL *h) { if (loaded) p_easy_reset(h); }
CURLcode steady_curl_easy_perform(CURL *h) { return loaded ? p_easy_perform(h) : CURLE_FAILED_INIT; }
const char *steady_curl_easy_strerror(CURLcode code) { return steady_curl_load() ? p_easy_strerror(code) : load_error; }
const char *steady_curl_version(void) { return steady_curl_load() ? p_version() : "libcurl not loaded"; }
struct curl_slist *steady_curl_slist_append(struct curl_slist *list, const char *s) { return steady_curl_load() ? p_slist_append(list, s) : NULL; }
void steady_curl_slist_free_all(struct curl_slist *list) { if (loaded && list) p_slist_free_all(list); }

CURLcode steady_curl_setopt_long(CURL *h, CURLoption o, long v) { return p_easy_setopt(h, o, v); }
CURLcode steady_curl_setopt_ptr(CURL *h, CURLoption o, const void *v) { return p_easy_setopt(h, o, v); }
CURLcode steady_curl_setopt_off_t(CURL *h, CURLoption o, curl_off_t v) { return p_easy_setopt(h, o, v); }
CURLcode steady_curl_setopt_slist(CURL *h, CURLoption o, struct curl_slist *v) { return p_easy_setopt(h, o, v); }
CURLcode steady_curl_setopt_write_callback(CURL *h, CURLoption o, curl_write_callback f) { return p_easy_setopt(h, o, f); }
CURLcode steady_curl_setopt_prereq_callback(CURL *h, curl_prereq_callback f) { return p_easy_setopt(h, CURLOPT_PREREQFUNCTION, f); }
CURLcode steady_curl_setopt_read_callback(CURL *h, curl_read_callback f) { return p_easy_setopt(h, CURLOPT_READFUNCTION, f); }
CURLcode steady_curl_getinfo_long(CURL *h, CURLINFO i, long *v) { return p_easy_getinfo(h, i, v); }
CURLcode steady_curl_getinfo_off_t(CURL *h, CURLINFO i, curl_off_t *v) { return p_easy_getinfo(h, i, v); }
CURLcode steady_curl_getinfo_string(CURL *h, CURLINFO i, char **v) { return p_easy_getinfo(h, i, v); }
