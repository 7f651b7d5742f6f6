// The tree-sitter allocator and TreeArena (see internal/js_arena.h).
#include "audit/internal/js_arena.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

namespace glassbox::audit::internal {
namespace {

thread_local TreeArena* t_tree_arena = nullptr;

struct BlockHeader {
  uint64_t magic;
  uint64_t size;  // bytes the caller asked for
};
static_assert(sizeof(BlockHeader) == 16);
constexpr uint64_t kHeapBlock = 0x676c617373686561ull;   // from malloc
constexpr uint64_t kArenaBlock = 0x676c617373617265ull;  // from a TreeArena

void* TsMalloc(size_t n) {
  if (n > SIZE_MAX / 2) std::abort();
  BlockHeader* h = nullptr;
  if (t_tree_arena != nullptr) {
    h = static_cast<BlockHeader*>(
        t_tree_arena->Allocate(sizeof(BlockHeader) + ((n + 15) & ~size_t{15})));
    if (h != nullptr) h->magic = kArenaBlock;
  }
  if (h == nullptr) {
    h = static_cast<BlockHeader*>(std::malloc(sizeof(BlockHeader) + n));
    if (h == nullptr) std::abort();
    h->magic = kHeapBlock;
  }
  h->size = n;
  return h + 1;
}

void TsFree(void* p) {
  if (p == nullptr) return;
  BlockHeader* h = static_cast<BlockHeader*>(p) - 1;
  if (h->magic != kHeapBlock) return;  // an arena's block: given back with the arena
  h->magic = 0;
  std::free(h);
}

void* TsCalloc(size_t count, size_t size) {
  if (size != 0 && count > SIZE_MAX / 2 / size) std::abort();
  void* p = TsMalloc(count * size);
  std::memset(p, 0, count * size);
  return p;
}

void* TsRealloc(void* p, size_t n) {
  if (p == nullptr) return TsMalloc(n);
  BlockHeader* h = static_cast<BlockHeader*>(p) - 1;
  if (h->magic == kHeapBlock && t_tree_arena == nullptr) {
    if (n > SIZE_MAX / 2) std::abort();
    h = static_cast<BlockHeader*>(std::realloc(h, sizeof(BlockHeader) + n));
    if (h == nullptr) std::abort();
    h->size = n;
    return h + 1;
  }
  void* out = TsMalloc(n);
  std::memcpy(out, p, std::min<size_t>(h->size, n));
  TsFree(p);
  return out;
}

}  // namespace

TreeArena::~TreeArena() {
  if (tree_ != nullptr && overflowed_) ts_tree_delete(tree_);
}

void* TreeArena::Allocate(size_t n) {
  if (n > kBlock / 4) return NewBlock(n);  // a block of its own; the current one stays in use
  if (n > left_) {
    next_ = NewBlock(kBlock);
    left_ = next_ == nullptr ? 0 : kBlock;
    if (next_ == nullptr) return nullptr;
  }
  char* out = next_;
  next_ += n;
  left_ -= n;
  return out;
}

char* TreeArena::NewBlock(size_t size) {
  if (used_ + size > cap_) {
    overflowed_ = true;
    return nullptr;
  }
  used_ += size;
  blocks_.emplace_back(new (std::nothrow) char[size]);
  if (blocks_.back() == nullptr) std::abort();
  return blocks_.back().get();
}

TreeArenaScope::TreeArenaScope(TreeArena* arena) : previous_(t_tree_arena) { t_tree_arena = arena; }

TreeArenaScope::~TreeArenaScope() { t_tree_arena = previous_; }

void InstallTreeSitterAllocator() { ts_set_allocator(TsMalloc, TsCalloc, TsRealloc, TsFree); }

}  // namespace glassbox::audit::internal
