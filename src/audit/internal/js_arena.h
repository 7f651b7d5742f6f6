// TreeArena: the audit's allocator for tree-sitter. While a thread has an
// arena active (TreeArenaScope), tree-sitter allocates from it by bumping a
// pointer and its frees are no-ops; the parser, the tree and the cursors over
// it are given back at once when the arena is destroyed, instead of node by
// node. Outside an arena, tree-sitter's blocks come from malloc. A 16-byte
// header on every block says which, so a block may be freed on any thread.
// InstallTreeSitterAllocator() must run once before the first parser
// (Grammar::Get() does it). Internal to the audit component.
#pragma once

#include <tree_sitter/api.h>

#include <cstddef>
#include <memory>
#include <vector>

namespace glassbox::audit::internal {

class TreeArena {
 public:
  // At most `cap` bytes come from the arena; past that (error recovery on
  // text that is not code churns memory), blocks come from malloc again and
  // are freed one by one.
  explicit TreeArena(size_t cap) : cap_(cap) {}
  TreeArena(const TreeArena&) = delete;
  TreeArena& operator=(const TreeArena&) = delete;
  // A tree that outgrew the arena holds blocks from malloc too: those are
  // freed through ts_tree_delete (whose frees of arena blocks are no-ops).
  ~TreeArena();
  void set_tree(TSTree* tree) { tree_ = tree; }

  // The arena's budget for a parse of `bytes` bytes of text.
  static size_t CapFor(size_t bytes) { return (size_t{64} << 20) + 48 * bytes; }

  // 16-byte aligned (`n` is a multiple of 16); null when the cap is reached;
  // aborts, as tree-sitter's own allocator does, when memory runs out.
  void* Allocate(size_t n);

 private:
  char* NewBlock(size_t size);

  static constexpr size_t kBlock = size_t{1} << 20;
  size_t cap_;
  size_t used_ = 0;
  bool overflowed_ = false;
  TSTree* tree_ = nullptr;
  std::vector<std::unique_ptr<char[]>> blocks_;
  char* next_ = nullptr;
  size_t left_ = 0;
};

// Makes `arena` the calling thread's tree-sitter arena for its lifetime.
class TreeArenaScope {
 public:
  explicit TreeArenaScope(TreeArena* arena);
  ~TreeArenaScope();
  TreeArenaScope(const TreeArenaScope&) = delete;
  TreeArenaScope& operator=(const TreeArenaScope&) = delete;

 private:
  TreeArena* previous_;
};

// Points tree-sitter's allocator at the functions above (ts_set_allocator).
void InstallTreeSitterAllocator();

}  // namespace glassbox::audit::internal
