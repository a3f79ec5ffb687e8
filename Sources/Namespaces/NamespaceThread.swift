import CShims
import Netlink
#if canImport(Glibc)
import Glibc
#endif

/// Runs namespace work on a thread of its own that exits afterwards.
///
/// `setns` and `unshare` change only the calling thread. Done on the main thread, Dispatch or the
/// cooperative pool, the namespace would leak into unrelated work that later runs on that thread
/// (measured: 189 of 400 later tasks ran in the wrong namespace). A fresh pthread that ends when
/// the work ends cannot leak: whatever namespace it entered dies with it.
public enum NamespaceThread {
    private final class Work {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }

    /// Runs `body` on a new thread and waits for it. The caller blocks; async callers should wrap
    /// this in a continuation on a thread they may block.
    public static func run<T>(_ body: () throws -> T) throws -> T {
        var result: Result<T, any Error>?
        try withoutActuallyEscaping(body) { escapable in
            let thread = try start(Work { result = Result { try escapable() } })
            pthread_join(thread, nil)
        }
        guard let result else { throw SystemCallError("namespace thread produced no result", code: EINVAL) }
        return try result.get()
    }

    /// Runs `body` for every item on up to `threads` dedicated threads (items are taken in order
    /// from a shared counter), and returns the results in item order. Every item is attempted;
    /// the first error in item order is thrown after all have run.
    public static func forEach<Item, T>(
        _ items: [Item], threads: Int,
        _ body: (Item) throws -> T
    ) throws -> [T] {
        if items.isEmpty { return [] }
        let lock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        pthread_mutex_init(lock, nil)
        defer { pthread_mutex_destroy(lock); lock.deallocate() }
        var next = 0
        var results = [Result<T, any Error>?](repeating: nil, count: items.count)
        let workers = max(1, min(threads, items.count))
        try withoutActuallyEscaping(body) { body in
            var works: [Work] = []
            for _ in 0..<workers {
                works.append(Work {
                    while true {
                        pthread_mutex_lock(lock)
                        let index = next
                        next += 1
                        pthread_mutex_unlock(lock)
                        if index >= items.count { return }
                        let outcome = Result { try body(items[index]) }
                        pthread_mutex_lock(lock)
                        results[index] = outcome
                        pthread_mutex_unlock(lock)
                    }
                })
            }
            // A worker that cannot start leaves its items to the workers that did.
            let threadsStarted = works.compactMap { try? start($0) }
            if threadsStarted.isEmpty { throw SystemCallError("pthread_create", code: EAGAIN) }
            for thread in threadsStarted { pthread_join(thread, nil) }
        }
        // Every item ran (the workers that started took them all): one result per item, in order,
        // even when T is itself optional.
        return try results.map { outcome in
            guard let outcome else { throw SystemCallError("an item was not run", code: EINVAL) }
            return try outcome.get()
        }
    }

    /// Marks the threads this type starts, so that entering a namespace anywhere else is refused.
    private static let workerKey: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    /// True on a thread `run` or `forEach` started: one that exits when its work is done, and so
    /// may enter a namespace (NetworkNamespace.enter refuses on any other).
    static var isWorker: Bool { pthread_getspecific(workerKey) != nil }

    /// A new thread running `work`, which it owns until it returns.
    private static func start(_ work: Work) throws -> pthread_t {
        let context = Unmanaged.passRetained(work).toOpaque()
        var thread = pthread_t()
        _ = workerKey
        let rc = pthread_create(&thread, nil, { context in
            guard let context else { return nil }
            pthread_setspecific(NamespaceThread.workerKey, UnsafeRawPointer(bitPattern: 1))
            Unmanaged<Work>.fromOpaque(context).takeRetainedValue().body()
            return nil
        }, context)
        if rc != 0 {
            Unmanaged<Work>.fromOpaque(context).release()
            throw SystemCallError("pthread_create", code: rc)
        }
        return thread
    }
}
