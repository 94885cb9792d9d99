using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http.Features;

namespace GptWsDaemon.Server.Engines;

/// <summary>
/// The connection budget, enforced before accept: while every slot is taken the listener does not call accept at all,
/// so further clients wait in the kernel's backlog instead of costing a descriptor each (a socket accepted only to be
/// refused still costs one, and at EMFILE the runtime aborts the process). A slot is given back when Kestrel disposes
/// the connection.
/// </summary>
public sealed class AcceptGate : IDisposable
{
    private readonly SemaphoreSlim _slots;

    /// <summary>Creates a gate of <paramref name="capacity"/> slots.</summary>
    public AcceptGate(int capacity) => _slots = new SemaphoreSlim(capacity, capacity);

    /// <inheritdoc/>
    public void Dispose() => _slots.Dispose();

    /// <summary>Wraps a transport so that every listener it binds waits for a slot before each accept.</summary>
    internal sealed class Factory(IConnectionListenerFactory inner, AcceptGate gate) : IConnectionListenerFactory
    {
        public async ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default) =>
            new Listener(await inner.BindAsync(endpoint, cancellationToken).ConfigureAwait(false), gate._slots);
    }

    private sealed class Listener(IConnectionListener inner, SemaphoreSlim slots) : IConnectionListener
    {
        private readonly CancellationTokenSource _unbound = new();

        public EndPoint EndPoint => inner.EndPoint;

        public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
        {
            try
            {
                await slots.WaitAsync(_unbound.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return null; // unbound while waiting: Kestrel reads null as "no more connections"
            }

            ConnectionContext? connection;
            try
            {
                connection = await inner.AcceptAsync(cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                slots.Release();
                throw;
            }

            if (connection is null)
            {
                slots.Release();
                return null;
            }

            return new Slot(connection, slots);
        }

        public async ValueTask UnbindAsync(CancellationToken cancellationToken = default)
        {
            await _unbound.CancelAsync().ConfigureAwait(false);
            await inner.UnbindAsync(cancellationToken).ConfigureAwait(false);
        }

        public async ValueTask DisposeAsync()
        {
            await inner.DisposeAsync().ConfigureAwait(false);
            _unbound.Dispose();
        }
    }

    /// <summary>The accepted connection, unchanged, except that disposing it gives its slot back (once).</summary>
    private sealed class Slot(ConnectionContext inner, SemaphoreSlim slots) : ConnectionContext
    {
        private int _released;

        public override string ConnectionId { get => inner.ConnectionId; set => inner.ConnectionId = value; }

        public override IFeatureCollection Features => inner.Features;

        public override IDictionary<object, object?> Items { get => inner.Items; set => inner.Items = value; }

        public override System.IO.Pipelines.IDuplexPipe Transport { get => inner.Transport; set => inner.Transport = value; }

        public override EndPoint? LocalEndPoint { get => inner.LocalEndPoint; set => inner.LocalEndPoint = value; }

        public override EndPoint? RemoteEndPoint { get => inner.RemoteEndPoint; set => inner.RemoteEndPoint = value; }

        public override CancellationToken ConnectionClosed { get => inner.ConnectionClosed; set => inner.ConnectionClosed = value; }

        public override void Abort(ConnectionAbortedException abortReason) => inner.Abort(abortReason);

        public override void Abort() => inner.Abort();

        public override async ValueTask DisposeAsync()
        {
            try
            {
                await inner.DisposeAsync().ConfigureAwait(false);
                await base.DisposeAsync().ConfigureAwait(false);
            }
            finally
            {
                if (Interlocked.Exchange(ref _released, 1) == 0)
                {
                    slots.Release();
                }
            }
        }
    }
}
