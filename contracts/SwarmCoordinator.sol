// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title SwarmCoordinator
/// @notice Coordinates an RL swarm on chain: peer registration, the current round and stage, per-stage
/// rewards, round-winner votes and bootnodes. Implements the public network's interface so that nodes can
/// be developed and tested against a local chain. Deployed behind SwarmCoordinatorProxy (ERC-1967, UUPS).
contract SwarmCoordinator {
    bytes32 public constant OWNER_ROLE = keccak256("OWNER_ROLE");
    bytes32 public constant STAGE_MANAGER_ROLE = keccak256("STAGE_MANAGER_ROLE");
    bytes32 public constant BOOTNODE_MANAGER_ROLE = keccak256("BOOTNODE_MANAGER_ROLE");
    string public constant UPGRADE_INTERFACE_VERSION = "5.0.0";

    // keccak256("eip1967.proxy.implementation") - 1
    bytes32 internal constant _IMPLEMENTATION_SLOT = 0x360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc;
    uint256 internal constant _STAGE_COUNT = 3;

    address private immutable _self = address(this);

    uint64 private _initializedVersion;

    mapping(bytes32 => mapping(address => bool)) private _roles;

    uint256 private _currentRound;
    uint256 private _currentStage;

    mapping(address => string[]) private _eoaToPeerIds;
    mapping(string => address) private _peerIdToEoa;

    string[] private _bootnodes;

    // round => stage => account => reward. As on the live network (SwarmCoordinator 0.4.2), an account
    // submits once per round and stage, whichever of its peers submits: two peers on one account
    // get one reward per stage between them.
    mapping(uint256 => mapping(uint256 => mapping(address => int256))) private _roundStageReward;
    mapping(uint256 => mapping(uint256 => mapping(address => bool))) private _accountSubmitted;
    mapping(string => int256) private _totalRewards;

    // round => voter peer id => the winners it voted for (possibly none: an empty vote still counts)
    mapping(uint256 => mapping(string => string[])) private _votes;
    mapping(uint256 => mapping(string => bool)) private _voted;
    mapping(uint256 => mapping(string => uint256)) private _peerVoteCount;
    mapping(string => uint256) private _voterVoteCount;
    mapping(string => uint256) private _totalWins;
    string[] private _voters;
    string[] private _votedPeers;

    event Initialized(uint64 version);
    event Upgraded(address indexed implementation);
    event RoleGranted(bytes32 indexed role, address indexed account, address indexed sender);
    event RoleRevoked(bytes32 indexed role, address indexed account, address indexed sender);
    event PeerRegistered(address indexed eoa, string peerId);
    event BootnodesAdded(address indexed manager, uint256 count);
    event BootnodeRemoved(address indexed manager, uint256 index);
    event AllBootnodesCleared(address indexed manager);
    event StageAdvanced(uint256 indexed roundNumber, uint256 newStage);
    event RoundAdvanced(uint256 indexed newRoundNumber);
    event RewardSubmitted(
        address indexed account,
        uint256 indexed roundNumber,
        uint256 indexed stageNumber,
        int256 reward,
        string peerId
    );
    event CumulativeRewardsUpdated(address indexed account, string peerId, int256 totalRewards);
    event WinnerSubmitted(address indexed account, string peerId, uint256 indexed roundNumber, string[] winners);

    error InvalidInitialization();
    error NotInitializing();
    error OnlyOwner();
    error OnlyStageManager();
    error OnlyBootnodeManager();
    error InvalidBootnodeIndex();
    error StageOutOfBounds(); // in the live ABI; the rules above raise InvalidStageNumber instead
    error PeerIdAlreadyRegistered();
    error InvalidRoundNumber();
    error InvalidStageNumber();
    error RewardAlreadySubmitted();
    error WinnerAlreadyVoted();
    error InvalidVoterPeerId();
    error InvalidVote();
    error UUPSUnauthorizedCallContext();
    error UUPSUnsupportedProxiableUUID(bytes32 slot);
    error ERC1967InvalidImplementation(address implementation);
    error ERC1967NonPayable();
    error AddressEmptyCode(address target);
    error FailedCall();

    modifier onlyRole(bytes32 role, bytes4 failure) {
        if (!_roles[role][msg.sender]) {
            assembly {
                mstore(0, failure)
                revert(0, 4)
            }
        }
        _;
    }

    modifier onlyProxy() {
        if (address(this) == _self || _implementation() != _self) revert UUPSUnauthorizedCallContext();
        _;
    }

    constructor() {
        // The implementation itself is never initialised; only a proxy's storage is.
        _initializedVersion = type(uint64).max;
        emit Initialized(type(uint64).max);
    }

    // ----- initialisation, roles and upgrades -----

    function initialize(address owner_) external {
        if (_initializedVersion != 0) revert InvalidInitialization();
        _initializedVersion = 1;
        _grant(OWNER_ROLE, owner_);
        _grant(STAGE_MANAGER_ROLE, owner_);
        _grant(BOOTNODE_MANAGER_ROLE, owner_);
        emit Initialized(1);
    }

    function hasRole(bytes32 role, address account) external view returns (bool) {
        return _roles[role][account];
    }

    function grantRole(bytes32 role, address account) external onlyRole(OWNER_ROLE, OnlyOwner.selector) {
        _grant(role, account);
    }

    function revokeRole(bytes32 role, address account) external onlyRole(OWNER_ROLE, OnlyOwner.selector) {
        if (_roles[role][account]) {
            _roles[role][account] = false;
            emit RoleRevoked(role, account, msg.sender);
        }
    }

    function proxiableUUID() external view returns (bytes32) {
        if (address(this) != _self) revert UUPSUnauthorizedCallContext();
        return _IMPLEMENTATION_SLOT;
    }

    function upgradeToAndCall(address newImplementation, bytes calldata data)
        external
        payable
        onlyProxy
        onlyRole(OWNER_ROLE, OnlyOwner.selector)
    {
        try SwarmCoordinator(newImplementation).proxiableUUID() returns (bytes32 slot) {
            if (slot != _IMPLEMENTATION_SLOT) revert UUPSUnsupportedProxiableUUID(slot);
        } catch {
            revert ERC1967InvalidImplementation(newImplementation);
        }
        assembly {
            sstore(_IMPLEMENTATION_SLOT, newImplementation)
        }
        emit Upgraded(newImplementation);
        if (data.length > 0) {
            if (newImplementation.code.length == 0) revert AddressEmptyCode(newImplementation);
            (bool ok, bytes memory ret) = newImplementation.delegatecall(data);
            if (!ok) _bubble(ret);
        } else if (msg.value > 0) {
            revert ERC1967NonPayable();
        }
    }

    // ----- rounds and stages -----

    function currentRound() external view returns (uint256) {
        return _currentRound;
    }

    function currentStage() external view returns (uint256) {
        return _currentStage;
    }

    function stageCount() public pure returns (uint256) {
        return _STAGE_COUNT;
    }

    function updateStageAndRound()
        external
        onlyRole(STAGE_MANAGER_ROLE, OnlyStageManager.selector)
        returns (uint256, uint256)
    {
        if (_currentStage + 1 >= _STAGE_COUNT) {
            _currentStage = 0;
            _currentRound += 1;
            emit RoundAdvanced(_currentRound);
        } else {
            _currentStage += 1;
            emit StageAdvanced(_currentRound, _currentStage);
        }
        return (_currentRound, _currentStage);
    }

    // ----- peers -----

    function registerPeer(string calldata peerId) external {
        if (_peerIdToEoa[peerId] != address(0)) revert PeerIdAlreadyRegistered();
        _peerIdToEoa[peerId] = msg.sender;
        _eoaToPeerIds[msg.sender].push(peerId);
        emit PeerRegistered(msg.sender, peerId);
    }

    function getPeerId(address[] calldata eoas) external view returns (string[][] memory) {
        string[][] memory peerIds = new string[][](eoas.length);
        for (uint256 i = 0; i < eoas.length; i++) {
            peerIds[i] = _eoaToPeerIds[eoas[i]];
        }
        return peerIds;
    }

    function getEoa(string[] calldata peerIds) external view returns (address[] memory) {
        address[] memory eoas = new address[](peerIds.length);
        for (uint256 i = 0; i < peerIds.length; i++) {
            eoas[i] = _peerIdToEoa[peerIds[i]];
        }
        return eoas;
    }

    // ----- bootnodes -----

    function addBootnodes(string[] calldata newBootnodes)
        external
        onlyRole(BOOTNODE_MANAGER_ROLE, OnlyBootnodeManager.selector)
    {
        for (uint256 i = 0; i < newBootnodes.length; i++) {
            _bootnodes.push(newBootnodes[i]);
        }
        emit BootnodesAdded(msg.sender, newBootnodes.length);
    }

    function removeBootnode(uint256 index) external onlyRole(BOOTNODE_MANAGER_ROLE, OnlyBootnodeManager.selector) {
        if (index >= _bootnodes.length) revert InvalidBootnodeIndex();
        // Shift rather than swap so that the remaining bootnodes keep their order.
        for (uint256 i = index; i + 1 < _bootnodes.length; i++) {
            _bootnodes[i] = _bootnodes[i + 1];
        }
        _bootnodes.pop();
        emit BootnodeRemoved(msg.sender, index);
    }

    function clearBootnodes() external onlyRole(BOOTNODE_MANAGER_ROLE, OnlyBootnodeManager.selector) {
        delete _bootnodes;
        emit AllBootnodesCleared(msg.sender);
    }

    function getBootnodes() external view returns (string[] memory) {
        return _bootnodes;
    }

    function getBootnodesCount() external view returns (uint256) {
        return _bootnodes.length;
    }

    // ----- rewards -----

    function submitReward(uint256 roundNumber, uint256 stageNumber, int256 reward, string calldata peerId) external {
        if (_peerIdToEoa[peerId] != msg.sender) revert InvalidVoterPeerId();
        if (roundNumber > _currentRound) revert InvalidRoundNumber();
        // Beyond the stage count and ahead of the current stage are one error on the live contract.
        if (stageNumber >= _STAGE_COUNT) revert InvalidStageNumber();
        if (roundNumber == _currentRound && stageNumber > _currentStage) revert InvalidStageNumber();
        if (_accountSubmitted[roundNumber][stageNumber][msg.sender]) revert RewardAlreadySubmitted();

        _accountSubmitted[roundNumber][stageNumber][msg.sender] = true;
        _roundStageReward[roundNumber][stageNumber][msg.sender] += reward;
        _totalRewards[peerId] += reward;
        emit RewardSubmitted(msg.sender, roundNumber, stageNumber, reward, peerId);
        emit CumulativeRewardsUpdated(msg.sender, peerId, _totalRewards[peerId]);
    }

    function hasSubmittedRoundStageReward(uint256 roundNumber, uint256 stageNumber, address account)
        external
        view
        returns (bool)
    {
        return _accountSubmitted[roundNumber][stageNumber][account];
    }

    function getRoundStageReward(uint256 roundNumber, uint256 stageNumber, address[] calldata accounts)
        external
        view
        returns (int256[] memory)
    {
        int256[] memory rewards = new int256[](accounts.length);
        for (uint256 i = 0; i < accounts.length; i++) {
            rewards[i] = _roundStageReward[roundNumber][stageNumber][accounts[i]];
        }
        return rewards;
    }

    function getTotalRewards(string[] calldata peerIds) external view returns (int256[] memory) {
        int256[] memory totals = new int256[](peerIds.length);
        for (uint256 i = 0; i < peerIds.length; i++) {
            totals[i] = _totalRewards[peerIds[i]];
        }
        return totals;
    }

    // ----- winner votes -----

    function submitWinners(uint256 roundNumber, string[] calldata winners, string calldata peerId) external {
        if (_peerIdToEoa[peerId] != msg.sender) revert InvalidVoterPeerId();
        if (roundNumber > _currentRound) revert InvalidRoundNumber();
        if (_voted[roundNumber][peerId]) revert WinnerAlreadyVoted();
        for (uint256 i = 0; i < winners.length; i++) {
            if (bytes(winners[i]).length == 0) revert InvalidVote();
            for (uint256 j = 0; j < i; j++) {
                if (keccak256(bytes(winners[i])) == keccak256(bytes(winners[j]))) revert InvalidVote();
            }
        }

        _voted[roundNumber][peerId] = true;
        if (_voterVoteCount[peerId] == 0) _voters.push(peerId);
        _voterVoteCount[peerId] += 1;
        string[] storage ballot = _votes[roundNumber][peerId];
        for (uint256 i = 0; i < winners.length; i++) {
            ballot.push(winners[i]);
            _peerVoteCount[roundNumber][winners[i]] += 1;
            if (_totalWins[winners[i]] == 0) _votedPeers.push(winners[i]);
            _totalWins[winners[i]] += 1;
        }
        emit WinnerSubmitted(msg.sender, peerId, roundNumber, winners);
    }

    function getVoterVotes(uint256 roundNumber, string calldata peerId) external view returns (string[] memory) {
        return _votes[roundNumber][peerId];
    }

    function getPeerVoteCount(uint256 roundNumber, string calldata peerId) external view returns (uint256) {
        return _peerVoteCount[roundNumber][peerId];
    }

    function getVoterVoteCount(string calldata peerId) external view returns (uint256) {
        return _voterVoteCount[peerId];
    }

    function getTotalWins(string calldata peerId) external view returns (uint256) {
        return _totalWins[peerId];
    }

    function uniqueVoters() external view returns (uint256) {
        return _voters.length;
    }

    function uniqueVotedPeers() external view returns (uint256) {
        return _votedPeers.length;
    }

    /// @notice Peers ranked by total wins (highest first, ties in order of their first win), sliced [start, end).
    function winnerLeaderboard(uint256 start, uint256 end)
        external
        view
        returns (string[] memory peerIds, uint256[] memory wins)
    {
        return _ranked(_votedPeers, _totalWins, start, end);
    }

    /// @notice Voters ranked by the number of rounds they voted in, sliced [start, end).
    function voterLeaderboard(uint256 start, uint256 end)
        external
        view
        returns (string[] memory peerIds, uint256[] memory voteCounts)
    {
        return _ranked(_voters, _voterVoteCount, start, end);
    }

    // ----- internals -----

    function _ranked(string[] storage peers, mapping(string => uint256) storage score, uint256 start, uint256 end)
        private
        view
        returns (string[] memory ids, uint256[] memory values)
    {
        uint256 n = peers.length;
        if (end > n) end = n;
        if (start >= end) return (new string[](0), new uint256[](0));

        string[] memory all = new string[](n);
        uint256[] memory scores = new uint256[](n);
        for (uint256 i = 0; i < n; i++) {
            string memory peer = peers[i];
            uint256 value = score[peer];
            // Insertion sort: stable, so equal scores keep first-seen order.
            uint256 j = i;
            while (j > 0 && scores[j - 1] < value) {
                all[j] = all[j - 1];
                scores[j] = scores[j - 1];
                j--;
            }
            all[j] = peer;
            scores[j] = value;
        }

        ids = new string[](end - start);
        values = new uint256[](end - start);
        for (uint256 i = start; i < end; i++) {
            ids[i - start] = all[i];
            values[i - start] = scores[i];
        }
    }

    function _grant(bytes32 role, address account) private {
        if (!_roles[role][account]) {
            _roles[role][account] = true;
            emit RoleGranted(role, account, msg.sender);
        }
    }

    function _implementation() private view returns (address impl) {
        assembly {
            impl := sload(_IMPLEMENTATION_SLOT)
        }
    }

    function _bubble(bytes memory ret) private pure {
        if (ret.length == 0) revert FailedCall();
        assembly {
            revert(add(ret, 32), mload(ret))
        }
    }
}

/// @notice Minimal ERC-1967 proxy: stores the implementation, runs the initialiser, forwards every call.
contract SwarmCoordinatorProxy {
    bytes32 internal constant _IMPLEMENTATION_SLOT = 0x360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc;

    event Upgraded(address indexed implementation);

    error ERC1967InvalidImplementation(address implementation);
    error FailedCall();

    constructor(address implementation, bytes memory data) payable {
        if (implementation.code.length == 0) revert ERC1967InvalidImplementation(implementation);
        assembly {
            sstore(_IMPLEMENTATION_SLOT, implementation)
        }
        emit Upgraded(implementation);
        if (data.length > 0) {
            (bool ok, bytes memory ret) = implementation.delegatecall(data);
            if (!ok) {
                if (ret.length == 0) revert FailedCall();
                assembly {
                    revert(add(ret, 32), mload(ret))
                }
            }
        }
    }

    fallback() external payable {
        assembly {
            let impl := sload(_IMPLEMENTATION_SLOT)
            calldatacopy(0, 0, calldatasize())
            let ok := delegatecall(gas(), impl, 0, calldatasize(), 0, 0)
            returndatacopy(0, 0, returndatasize())
            switch ok
            case 0 { revert(0, returndatasize()) }
            default { return(0, returndatasize()) }
        }
    }
}
